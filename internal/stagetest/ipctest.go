package stagetest

// The tests of the IPC namespace, the lesson of stage 04, written once:
// each stage from 04 on runs them from its main_test.go as a top-level
// test of the same name (TestIPCObjectsAreSeparate calls
// IPCObjectsAreSeparate), against its own binary.

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// System V objects made on the host are not in the container's tables, and
// objects made in the container are in neither the host's tables nor, after
// it exits, anywhere: they die with the namespace.
func IPCObjectsAreSeparate(t *testing.T) {
	RequireRoot(t)
	hostKey := ipcKey()
	shm, msq := createSysV(t, hostKey)
	t.Cleanup(func() {
		_, _ = unix.SysvShmCtl(shm, unix.IPC_RMID, nil)
		_, _, _ = unix.Syscall(unix.SYS_MSGCTL, uintptr(msq), unix.IPC_RMID, 0)
	})
	require.True(t, sysvHas(ReadFile(t, "/proc/sysvipc/shm"), hostKey))

	root := RootfsWithHelper(t)
	ctrKey := ipcKey()
	p := Start(t, "--rootfs", root, "sh", "-c", fmt.Sprintf(
		"cat /proc/sysvipc/shm /proc/sysvipc/msg; /cfs-helper ipc-create %d && ls /dev/mqueue && echo ready; read _", ctrKey))
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	// From outside: the container's objects are in its namespace only.
	for _, table := range []string{"shm", "msg"} {
		require.False(t, sysvHas(ReadFile(t, "/proc/sysvipc/"+table), ctrKey), "the host sees the container's %s", table)
		require.True(t, sysvHas(readInIPCNamespace(t, pid, "/proc/sysvipc/"+table), ctrKey), "the container's %s is not in its namespace", table)
	}
	_, err := mqOpen("cfs-test-mq")
	require.ErrorIs(t, err, unix.ENOENT, "the host sees the container's POSIX message queue")

	_, _ = p.Stdin.Write([]byte("\n"))
	r := p.Wait(t)
	require.Equal(t, 0, r.Code, r.Stderr)
	// From inside: the host's objects were not listed, the queue was.
	require.False(t, sysvHas(r.Stdout, hostKey), "the container sees the host's objects:\n%s", r.Stdout)
	require.Contains(t, strings.Fields(r.Stdout), "cfs-test-mq")
	// Gone with the namespace: nothing of the container's reached the host.
	require.False(t, sysvHas(ReadFile(t, "/proc/sysvipc/shm"), ctrKey))
	require.False(t, sysvHas(ReadFile(t, "/proc/sysvipc/msg"), ctrKey))
}

// ipcKey returns a random key that no test on this host will repeat.
func ipcKey() int {
	return int(time.Now().UnixNano()&0x3fffffff) | 0x40000000
}

func createSysV(t *testing.T, key int) (shm, msq int) {
	t.Helper()
	shm, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err)
	m, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), unix.IPC_CREAT|unix.IPC_EXCL|0o600, 0)
	require.Zero(t, errno)
	return shm, int(m)
}

// sysvHas reports whether a /proc/sysvipc table lists key (its first column).
func sysvHas(table string, key int) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == strconv.Itoa(key) {
			return true
		}
	}
	return false
}

// readInIPCNamespace reads a file from a thread that has joined the IPC
// namespace of pid: /proc/sysvipc shows the reader's namespace.
func readInIPCNamespace(t *testing.T, pid int, path string) string {
	t.Helper()
	type result struct {
		data string
		err  error
	}
	c := make(chan result)
	go func() {
		// This thread changes namespace and must never run other goroutines:
		// leaving it locked makes the runtime end it with the goroutine.
		runtime.LockOSThread()
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/ipc", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWIPC)
			unix.Close(fd)
		}
		if err != nil {
			c <- result{err: err}
			return
		}
		data, err := os.ReadFile(path)
		c <- result{string(data), err}
	}()
	r := <-c
	require.NoError(t, r.err)
	return r.data
}

// mqOpen opens an existing POSIX message queue (glibc's mq_open without the
// leading slash, as the system call takes it).
func mqOpen(name string) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), unix.O_RDONLY, 0, 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// ipcCreate is /cfs-helper ipc-create KEY: makes a SysV shared memory
// segment and message queue with KEY, and the POSIX message queue
// cfs-test-mq, in the container's IPC namespace.
func ipcCreate(arg string) int {
	key, _ := strconv.Atoi(arg)
	if _, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600); err != nil {
		fmt.Println("shmget:", err)
		return 1
	}
	if _, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), unix.IPC_CREAT|unix.IPC_EXCL|0o600, 0); errno != 0 {
		fmt.Println("msgget:", errno)
		return 1
	}
	name, _ := unix.BytePtrFromString("cfs-test-mq")
	fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(name)), unix.O_CREAT|unix.O_RDWR, 0o600, 0, 0, 0)
	if errno != 0 {
		fmt.Println("mq_open:", errno)
		return 1
	}
	unix.Close(int(fd))
	return 0
}
