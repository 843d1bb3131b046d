package stagetest

import (
	"fmt"
)

// Helper is the program /cfs-helper: the test binary of a stage, copied
// into a container's root filesystem (RootfsWithHelper), runs what args
// name inside the container and returns its exit status. A stage's
// TestMain calls it when IsHelper. The programs live beside the tests
// that use them:
//
//	serve, call      the network tests (NetHelper, world.go)
//	chroot-escape    ChrootEscapeFails (mounttest.go)
//	ipc-create       IPCObjectsAreSeparate (ipctest.go)
//	hog, spin        the cgroup tests (cgrouptest.go)
func Helper(args []string) int {
	if status, ok := NetHelper(args); ok {
		return status
	}
	switch args[0] {
	case "chroot-escape":
		return chrootEscape(args[1])
	case "ipc-create":
		return ipcCreate(args[1])
	case "hog":
		return hog(args[1])
	case "spin":
		return spin(args[1])
	}
	fmt.Println("unknown helper", args)
	return 1
}
