// Command serve is the worked answers' server in a test "world" network
// namespace: it listens on a TCP address, prints "ready" once it does (so
// that a script waits on a line, not a timer), and writes a line of text
// to every client, until it is stopped. busybox's nc -ll -e did this, but
// busybox is not on every machine.
//
//	serve :9000 "hello from the world"
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: serve ADDR TEXT")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "serve: %v\n", err)
			os.Exit(1)
		}
		fmt.Fprintln(c, os.Args[2])
		c.Close()
	}
}
