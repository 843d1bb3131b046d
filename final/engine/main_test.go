package engine_test

// The engine's tests drive it as a user does: this test binary started
// again as `cfs` (stagetest's stage), with docker's command line
// (final/dockercli), in a network namespace made for the package, so that
// the bridge, veths and nft rules the containers need are never the
// host's. The containers' monitors and inits are this binary too
// (TestMain dispatches them). Images live in a store of the tests' own:
// cfs/base, and cfs-test/helper, the default root filesystem with this
// binary in it as /cfs-helper: a small HTTP server and client, since a
// student's machine has no busybox httpd.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cfs/final/engine/enginetest"
	"cfs/final/image"
	"cfs/internal/stagetest"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/require"
)

var storeDir string

func TestMain(m *testing.M) {
	if stagetest.IsHelper() {
		os.Exit(helper(os.Args[1:]))
	}
	os.Exit(enginetest.Main(m, &storeDir, nil))
}

// helper runs inside containers as /cfs-helper.
func helper(args []string) int {
	switch args[0] {
	case "serve": // serve PORT: answer every request with the hostname
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s\n", host)
		})
		fmt.Println("listening")
		if err := http.ListenAndServe(":"+args[1], nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "get": // get URL: print the body
		c := &http.Client{Timeout: 10 * time.Second}
		var last error
		for try := 0; try < 50; try++ {
			resp, err := c.Get(args[1])
			if err == nil {
				defer resp.Body.Close()
				_, _ = io.Copy(os.Stdout, resp.Body)
				return 0
			}
			last = err
			time.Sleep(100 * time.Millisecond) // the server may still be starting
		}
		fmt.Fprintln(os.Stderr, last)
		return 1
	}
	fmt.Fprintf(os.Stderr, "cfs-helper: unknown %q\n", args[0])
	return 2
}

// images makes cfs/base and cfs-test/helper in the tests' store, once.
var images struct {
	once sync.Once
	err  error
}

func setup(t *testing.T) {
	t.Helper()
	stagetest.RequireRoot(t)
	images.once.Do(func() {
		s, err := enginetest.Base(storeDir)
		if err != nil {
			images.err = err
			return
		}
		dir := stagetest.RootfsWithHelper(t)
		var tarball bytes.Buffer
		if err := image.TarTree(&tarball, dir); err != nil {
			images.err = err
			return
		}
		_, images.err = s.Import(t.Context(), &tarball, image.ImportOptions{Name: "cfs-test/helper", Source: "test",
			Changes: []string{`CMD ["/cfs-helper", "serve", "80"]`, "EXPOSE 80", "ENV GREETING=hello"}})
	})
	require.NoError(t, images.err)
}

// cfs runs the command line to the end.
func cfs(t *testing.T, args ...string) stagetest.Result {
	t.Helper()
	return stagetest.Run(t, "", args...)
}

// ok runs a command that must succeed and returns its output.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := cfs(t, args...)
	require.Equal(t, 0, r.Code, "cfs %s:\n%s%s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return r.Stdout
}

// inspect returns a container as docker inspect shows it.
func inspect(t *testing.T, name string) container.InspectResponse {
	t.Helper()
	var out []container.InspectResponse
	require.NoError(t, json.Unmarshal([]byte(ok(t, "inspect", name)), &out))
	require.Len(t, out, 1)
	return out[0]
}

// rmAll removes the test's containers when it ends.
func rmAll(t *testing.T, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			cfs(t, "rm", "-f", n)
		}
	})
}

// inNetNS dials addr from inside the package's network namespace and
// returns what an HTTP GET there answers.
func inNetNS(t *testing.T, url string) string {
	t.Helper()
	var body string
	err := stagetest.PackageNetNS().Do(func() error {
		var conn net.Conn
		var err error
		host := strings.TrimPrefix(url, "http://")
		host, _, _ = strings.Cut(host, "/")
		for try := 0; try < 100; try++ {
			if conn, err = net.Dial("tcp", host); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond) // the server inside is still starting
		}
		if err != nil {
			return err
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
		data, err := io.ReadAll(conn)
		_, b, _ := strings.Cut(string(data), "\r\n\r\n")
		body = b
		return err
	})
	require.NoError(t, err)
	return body
}
