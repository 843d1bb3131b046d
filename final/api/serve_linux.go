package api

// `cfs serve`: the socket, its permissions, and the server's limits.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cfs/final/engine"
	"cfs/final/image"
	"cfs/final/registry"

	"github.com/spf13/pflag"
)

// DefaultHost is where the server listens: a unix socket, as dockerd's
// /run/docker.sock, in cfs's own run directory.
const DefaultHost = "unix:///run/cfs/docker.sock"

// storeEnv names another image store (dockercli.StoreEnv, the same).
const storeEnv = "CFS_IMAGE_STORE"

// Main is `cfs serve`: it serves the API until SIGINT or SIGTERM, and
// returns the exit status.
func Main(prog string, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(prog+" serve", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	host := fs.StringP("host", "H", DefaultHost, "where to listen: `unix:///PATH`, or tcp://ADDR:PORT with --allow-tcp")
	allowTCP := fs.Bool("allow-tcp", false, "allow --host tcp://…: anyone who reaches the port is root on this host (no TLS)")
	configFile := fs.String("config-file", registry.ConfigPath, "read the registry settings from `FILE` (the keys of docker's daemon.json)")
	debug := fs.Bool("debug", false, "print each request on stderr: the API as the client uses it")
	help := fs.BoolP("help", "h", false, "print usage")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s serve [--host unix:///PATH]\n\n", prog)
		fmt.Fprintf(w, "Serves the Docker Engine API (1.%s) on a socket, so that the docker command line,\n", strings.TrimPrefix(APIVersion, "1."))
		fmt.Fprintf(w, "docker's SDKs and curl drive cfs. Containers are the engine's: the server can stop and\n")
		fmt.Fprintf(w, "start again while they run. The socket is 0660 root:docker if the docker group exists,\n")
		fmt.Fprintf(w, "else 0600. Run it as root.\n\n")
		fmt.Fprint(w, fs.FlagUsages())
		fmt.Fprintf(w, "\nExample:\n  sudo %s serve &\n  sudo DOCKER_HOST=%s docker run --rm cfs/base echo hi\n", prog, DefaultHost)
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s serve: %v\n(see: %s serve --help)\n", prog, err, prog)
		return 2
	}
	if *help {
		usage(stdout)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s serve: unexpected argument %q\n(see: %s serve --help)\n", prog, fs.Arg(0), prog)
		return 2
	}
	ln, cleanup, err := Listen(*host, *allowTCP, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s serve: %v\n", prog, err)
		return 2
	}
	defer cleanup()
	st, err := image.Open(os.Getenv(storeEnv))
	if err == nil {
		var cfg registry.Config
		if cfg, err = registry.LoadConfig(*configFile); err == nil {
			st.Registry = &registry.Client{Config: cfg}
		}
	}
	var e *engine.Engine
	if err == nil {
		e, err = engine.Open(st)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s serve: %v\n", prog, err)
		return 1
	}

	api := New(e)
	if *debug {
		api.Log = stderr
	}
	srv := NewHTTPServer(api)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		// Requests under way get a moment; hijacked streams and waits
		// end with the process. The containers run on: their monitors
		// own them.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}()
	fmt.Fprintf(stdout, "%s serve: listening on %s\n", prog, *host)
	fmt.Fprintf(stdout, "try: DOCKER_HOST=%s docker run --rm cfs/base echo hi\n", *host)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "%s serve: %v\n", prog, err)
		return 1
	}
	return 0
}

// NewHTTPServer wraps h with the limits that keep a slow or hostile
// client from tying the server up: the headers must come within 10
// seconds and within 64 KiB (a never-ending header is cut off); bodies
// are bounded where they are read (decode).
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10, IdleTimeout: 5 * time.Minute}
}

// Listen opens the socket host names. A unix socket left by a server that
// was killed is removed; one a server still answers on is an error.
func Listen(host string, allowTCP bool, warn io.Writer) (net.Listener, func(), error) {
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		return nil, nil, fmt.Errorf("--host %s: want unix:///PATH or tcp://ADDR:PORT", host)
	}
	switch proto {
	case "tcp":
		if !allowTCP {
			return nil, nil, fmt.Errorf("--host %s: the API is root on this host, and cfs has no TLS: anyone who can reach the port could run anything as root. Use a unix socket, or add --allow-tcp if you mean it (bind to 127.0.0.1)", host)
		}
		fmt.Fprintf(warn, "WARNING: serving the API on %s without TLS: anyone who can connect is root on this host\n", host)
		ln, err := net.Listen("tcp", addr)
		return ln, func() {}, err
	case "unix":
	default:
		return nil, nil, fmt.Errorf("--host %s: unknown protocol %q (want unix or tcp)", host, proto)
	}
	if !filepath.IsAbs(addr) {
		return nil, nil, fmt.Errorf("--host %s: the socket's path must be absolute", host)
	}
	if err := os.MkdirAll(filepath.Dir(addr), 0o755); err != nil {
		return nil, nil, err
	}
	if _, err := os.Lstat(addr); err == nil {
		if c, err := net.DialTimeout("unix", addr, time.Second); err == nil {
			c.Close()
			return nil, nil, fmt.Errorf("another server listens on %s: stop it, or use --host unix:///another/path", addr)
		}
		if err := os.Remove(addr); err != nil { // left by a killed server
			return nil, nil, err
		}
	}
	// Made with no permissions for others from the start (umask), then
	// given to the docker group, as dockerd does, if there is one.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", addr)
	syscall.Umask(old)
	if err != nil {
		return nil, nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if g, err := user.LookupGroup("docker"); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Lchown(addr, 0, gid); err == nil {
			_ = os.Chmod(addr, 0o660)
		}
	}
	return ln, func() { ln.Close() }, nil
}
