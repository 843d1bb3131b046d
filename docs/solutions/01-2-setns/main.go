// Command setns is exercise 01-2's answer: a tiny `nsenter -u`. It joins
// the UTS namespace of process PID and prints the hostname it sees there.
//
//	go run -exec sudo ./docs/solutions/01-2-setns PID
package main

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: setns PID")
		os.Exit(2)
	}
	// A namespace belongs to a thread, and Go moves goroutines between
	// threads: lock this goroutine to its thread before setns, and never
	// unlock it, so no other goroutine runs in the joined namespace.
	runtime.LockOSThread()

	f, err := os.Open("/proc/" + os.Args[1] + "/ns/uts")
	if err != nil {
		fmt.Fprintln(os.Stderr, "setns:", err)
		os.Exit(1)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS); err != nil {
		fmt.Fprintln(os.Stderr, "setns:", os.NewSyscallError("setns", err))
		os.Exit(1)
	}
	// os.Hostname reads /proc/sys/kernel/hostname, which shows the UTS
	// namespace of the thread that reads it: this one.
	name, err := os.Hostname()
	if err != nil {
		fmt.Fprintln(os.Stderr, "setns:", err)
		os.Exit(1)
	}
	fmt.Println(name)
}
