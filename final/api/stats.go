package api

// GET /containers/{name}/stats?stream=1|0&one-shot=1: the container's
// cgroup counters (stage 07), each second, with the sample before
// (precpu_stats) so that the client can work out CPU %: the container's
// CPU time over the host's between the two samples.

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"cfs/final/engine"

	"github.com/moby/moby/api/types/container"
)

func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	stream := r.URL.Query().Get("stream") == "" || boolParam(r, "stream")
	oneShot := boolParam(r, "one-shot")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	enc := json.NewEncoder(w)
	var prev *container.StatsResponse
	sample := func() *container.StatsResponse {
		out := &container.StatsResponse{ID: c.ID, Name: "/" + c.Name, OSType: "linux", Read: time.Now()}
		if cur, err := s.e.Get(c.ID); err != nil || !cur.Running() {
			return out // docker sends zeros for a container that does not run
		}
		st, err := s.e.Stats(c)
		if err != nil {
			return out
		}
		out.CPUStats = container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: st.CPUNanos},
			SystemUsage: systemCPUNanos(), OnlineCPUs: uint32(engine.NumCPU())}
		out.MemoryStats = container.MemoryStats{Usage: st.MemUsage, Limit: st.MemLimit}
		out.PidsStats = container.PidsStats{Current: st.Pids}
		out.NumProcs = uint32(st.Pids)
		out.Networks = map[string]container.NetworkStats{"eth0": {RxBytes: st.NetRx, TxBytes: st.NetTx}}
		return out
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	if !stream && !oneShot {
		// One answer, but with a sample a second before it, as docker's.
		prev = sample()
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
	for {
		cur := sample()
		if prev != nil {
			cur.PreCPUStats, cur.PreRead = prev.CPUStats, prev.Read
		}
		if enc.Encode(cur) != nil {
			return
		}
		flush(w)
		if !stream {
			return
		}
		prev = cur
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}

// systemCPUNanos is the host's CPU time, all CPUs, from the "cpu" line
// of /proc/stat (man 5 proc), in nanoseconds (USER_HZ is 100).
func systemCPUNanos() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range fields[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
		return ticks * (1e9 / 100)
	}
	return 0
}
