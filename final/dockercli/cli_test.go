package dockercli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"cfs/final/engine"
	"cfs/final/image/imagetest"
	"cfs/final/registry"
	"cfs/internal/stagetest"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	os.Exit(stagetest.Main(m, stagetest.Options{}))
}

type loopbackOnly struct{}

func (loopbackOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.URL.Hostname(); h != "127.0.0.1" && h != "localhost" {
		return nil, errors.New("test transport: " + h + " is not loopback: refused")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// cfs is the command line on a store of the test's own.
type cfs struct {
	t    *testing.T
	root string
}

func newCFS(t *testing.T) *cfs { return &cfs{t: t, root: filepath.Join(t.TempDir(), "images")} }

func (c *cfs) run(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	cli := &CLI{Prog: "final", In: strings.NewReader(stdin), Out: &out, Err: &errb, Root: c.root,
		Registry: &registry.Client{Transport: loopbackOnly{}}}
	code = cli.Run(args)
	return code, out.String(), errb.String()
}

func (c *cfs) ok(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run("", args...)
	require.Equal(c.t, 0, code, "%v: %s%s", args, out, errOut)
	return out
}

func TestPullImagesInspectHistoryTagRmi(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "test/layers:v1", imagetest.TestImage(t, "linux/"+runtime.GOARCH))
	c := newCFS(t)
	ref := reg.Ref("test/layers:v1")

	require.Equal(t, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n", c.ok("images"), "docker's header, exactly")

	out := c.ok("pull", ref)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "v1: Pulling from test/layers", lines[0])
	require.Regexp(t, `^[0-9a-f]{12}: Pull complete$`, lines[1], "one line per finished layer when not a terminal")
	require.Len(t, lines, 7)
	require.Regexp(t, `^Digest: sha256:[0-9a-f]{64}$`, lines[4])
	require.Equal(t, "Status: Downloaded newer image for "+ref, lines[5])
	require.Equal(t, ref, lines[6])

	out = c.ok("pull", ref)
	require.Regexp(t, `^v1: Pulling from test/layers\nDigest: sha256:[0-9a-f]{64}\nStatus: Image is up to date for `+regexp.QuoteMeta(ref)+"\n"+regexp.QuoteMeta(ref)+"\n$", out)
	require.Equal(t, ref+"\n", c.ok("pull", "-q", ref))

	id := strings.TrimSpace(c.ok("images", "-q"))
	require.Regexp(t, `^[0-9a-f]{12}$`, id)
	out = c.ok("images")
	require.Regexp(t, `^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\n`+regexp.QuoteMeta(reg.Host)+`/test/layers +v1 +`+id+` +\d+ (years|months) ago +[0-9.]+k?B\n$`, out)
	require.Contains(t, c.ok("images", "--digests"), "DIGEST")
	require.Equal(t, c.ok("images", "-q"), c.ok("images", "-qa"), "combined short flags, as docker's")
	require.Equal(t, c.ok("images", "-q"), c.ok("image", "ls", "--quiet"))
	require.Equal(t, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n", c.ok("images", "other/repo"), "a repository filter")

	var inspected []map[string]any
	require.NoError(t, json.Unmarshal([]byte(c.ok("image", "inspect", ref)), &inspected))
	require.Len(t, inspected, 1)
	require.Equal(t, "sha256:"+id, inspected[0]["Id"].(string)[:19])
	require.Equal(t, []any{ref}, inspected[0]["RepoTags"])
	require.Equal(t, []any{"/bin/sh"}, inspected[0]["Config"].(map[string]any)["Cmd"])
	require.Equal(t, "layers", inspected[0]["RootFS"].(map[string]any)["Type"])
	require.Len(t, inspected[0]["RootFS"].(map[string]any)["Layers"], 3)
	require.Contains(t, inspected[0]["GraphDriver"].(map[string]any)["Data"].(map[string]any)["LowerDir"], "/layers/")
	require.Equal(t, "linux\n", c.ok("image", "inspect", "--format", "{{.Os}}", id))
	require.Equal(t, `["/bin/sh"]`+"\n", c.ok("image", "inspect", "-f", "{{json .Config.Cmd}}", id))
	code, out, errOut := c.run("", "image", "inspect", ref, "nosuch")
	require.Equal(t, 1, code)
	require.Contains(t, out, `"Id"`, "what exists is printed")
	require.Contains(t, errOut, "No such image: nosuch")

	out = c.ok("history", ref)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.Regexp(t, `^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$`, lines[0])
	require.Regexp(t, `^`+id+` +\d+ (years|months) ago +/bin/sh -c #\(nop\)  CMD \["/bin/sh"\] +0B`, lines[1])
	require.Regexp(t, `^<missing> +\d+ (years|months) ago +/bin/sh -c #\(nop\) ADD file:layer2-of-the-tes… +\d+B`, lines[2], "CREATED BY cut at 45 characters")
	require.Len(t, lines, 5)
	require.Contains(t, c.ok("history", "--no-trunc", ref), "ADD file:layer2-of-the-test-image.tar in /")
	// --format: docker's fields; -H=false gives bytes and RFC 3339 times.
	out = c.ok("history", "--format", "{{.ID}}|{{.Size}}", ref)
	require.Regexp(t, `^`+id+`\|0B\n(<missing>\|\d+B\n){3}$`, out)
	require.Regexp(t, `^(\d+ \d{4}-\d\d-\d\dT[0-9:]+(Z|[+-]\d\d:\d\d)\n){4}$`, c.ok("history", "-H=false", "--format", "{{.Size}} {{.CreatedSince}}", ref))
	require.Regexp(t, `^CREATED BY +COMMENT\n/bin/sh -c #\(nop\)  CMD \["/bin/sh"\] +\n`, c.ok("history", "--format", `table {{.CreatedBy}}\t{{.Comment}}`, ref))
	require.Equal(t, id+"\n<missing>\n<missing>\n<missing>\n", c.ok("history", "-q", ref))

	c.ok("tag", ref, "mine:v1")
	require.Regexp(t, "\nmine +v1 +"+id+" ", c.ok("images"))
	// --filter and --format, as docker's: a reference is a glob of REPO
	// or REPO:TAG, and only the names that match are shown.
	require.Equal(t, "mine:v1 "+id+"\n", c.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "-f", "reference=mi*"))
	require.Equal(t, "mine:v1\n", c.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "mine:v*"), "REPOSITORY[:TAG] is a reference filter")
	require.Regexp(t, `^REPOSITORY +TAG +SIZE\nmine +v1 +[0-9.]+k?B\n$`, c.ok("images", "--format", `table {{.Repository}}\t{{.Tag}}\t{{.Size}}`, "--filter", "reference=mine"))
	require.Equal(t, id+"\n"+id+"\n", c.ok("images", "-q", "-f", "dangling=false"), "one row per name")
	require.Empty(t, c.ok("images", "-q", "-f", "dangling=true"))
	require.Empty(t, c.ok("images", "-q", "-f", "since=mine:v1"), "nothing is newer")
	for _, tc := range []struct{ args, stderr string }{
		{"-f nope=1", "Error response from daemon: invalid filter 'nope' (cfs knows reference, dangling, label, before, since)\n"},
		{"-f dangling=maybe", "Error response from daemon: invalid filter 'dangling=maybe': true or false\n"},
		{"-f before=nosuch", "Error response from daemon: No such image: nosuch"},
		{"--format {{.Nope}}", `final images: template: format:1:2: executing "format" at <.Nope>: can't evaluate field Nope`},
	} {
		code, _, errOut := c.run("", append([]string{"images"}, strings.Fields(tc.args)...)...)
		require.Equal(t, 1, code, tc.args)
		require.Contains(t, errOut, tc.stderr, tc.args)
	}
	require.Equal(t, "Untagged: mine:v1\n", c.ok("rmi", "mine:v1"))
	code, _, errOut = c.run("", "rmi", "nosuch:tag")
	require.Equal(t, 1, code)
	require.Equal(t, "final rmi: No such image: nosuch:tag (see the images here with `cfs images`; get it with `cfs pull nosuch:tag`)\n", errOut)
	out = c.ok("rmi", ref)
	require.Regexp(t, `^Untagged: `+regexp.QuoteMeta(ref)+`\nUntagged: `+regexp.QuoteMeta(reg.Host)+`/test/layers@sha256:[0-9a-f]{64}\nDeleted: sha256:`+id+`[0-9a-f]{52}\n(Deleted: sha256:[0-9a-f]{64}\n){3}$`, out)
	require.Equal(t, "", c.ok("images", "-q"))
}

// version needs no engine and no root: cfs's command line and engine
// are one program.
func TestVersion(t *testing.T) {
	c := newCFS(t)
	out := c.ok("version")
	require.Regexp(t, `^Client: cfs — containers from scratch\n Version: +`+regexp.QuoteMeta(engine.Version)+`\n`, out)
	require.Contains(t, out, "\nServer: cfs — containers from scratch\n Engine:\n  Version:          "+engine.Version+"\n")
	require.Contains(t, out, "  OS/Arch:          linux/"+runtime.GOARCH+"\n")
	require.Equal(t, engine.Version+" "+engine.APIVersion+"\n", c.ok("version", "--format", "{{.Server.Version}} {{.Client.APIVersion}}"))
	var v struct{ Client, Server map[string]any }
	require.NoError(t, json.Unmarshal([]byte(c.ok("version", "-f", "json")), &v))
	require.Equal(t, engine.MinAPIVersion, v.Server["MinAPIVersion"])
	code, _, errOut := c.run("", "version", "-f", "{{.Nope}}")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `can't evaluate field Nope`)
}

func TestFlagsAndArguments(t *testing.T) {
	c := newCFS(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"images", "--frob"}, 125, "final images: unknown flag: --frob\nSee 'final images --help'.\n"},
		{[]string{"pull", "-z", "x"}, 125, "final pull: unknown shorthand flag: 'z' in -z\nSee 'final pull --help'.\n"},
		{[]string{"pull"}, 1, "final pull: \"final pull\" requires exactly 1 argument.\nSee 'final pull --help'.\n\nUsage:  final pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nDownload an image from a registry\n"},
		{[]string{"tag", "a"}, 1, "\"final tag\" requires exactly 2 arguments."},
		{[]string{"rmi"}, 1, "\"final rmi\" requires at least 1 argument."},
		{[]string{"image", "inspect"}, 1, "\"final image inspect\" requires at least 1 argument."},
		{[]string{"image", "frob"}, 125, "final image: unknown command \"frob\""},
		{[]string{"image", "prune", "x"}, 1, "final image prune: \"final image prune\" accepts no arguments.\nSee 'final image prune --help'.\n\nUsage:  final image prune [OPTIONS]\n\nRemove unused images\n"},
		{[]string{"image", "prune", "--filter", "until=soon"}, 1, "Error response from daemon: invalid filter 'until=soon': failed to parse value as time or duration: \"soon\"\n"},
		{[]string{"system", "prune", "--filter", "dangling=true"}, 1, "Error response from daemon: invalid filter 'dangling' (cfs knows until, label, label!)\n"},
		{[]string{"pull", "--platform", "linux", "x"}, 1, "invalid platform \"linux\": want OS/ARCH[/VARIANT]"},
		{[]string{"pull", "Bad/Name"}, 1, "final pull: invalid reference format: repository name (Bad/Name) must be lowercase\n"},
		{[]string{"pull", "--registry-mirror", "mirror.example", "busybox"}, 1, "registry mirror \"mirror.example\": want a URL"},
		{[]string{"load"}, 1, "not a tar archive, or an empty one"},
		{[]string{"import", "/nonexistent/file.tar"}, 1, "no such file or directory"},
		// The container commands check their flags before they open the
		// engine, with docker's words and statuses.
		{[]string{"stop"}, 1, "final stop: \"final stop\" requires at least 1 argument.\nSee 'final stop --help'."},
		{[]string{"wait"}, 1, "\"final wait\" requires at least 1 argument."},
		{[]string{"kill", "-s", "NOPE", "x"}, 1, "final kill: invalid signal: NOPE\n"},
		{[]string{"stop", "-s", "NOPE", "x"}, 1, "final stop: invalid signal: NOPE\n"},
		{[]string{"restart", "--signal", "NOPE", "x"}, 1, "final restart: invalid signal: NOPE\n"},
		{[]string{"logs", "--tail", "x", "c"}, 1, "final logs: invalid value for \"tail\": \"x\" is not a number or \"all\"\n"},
		{[]string{"rm", "--bogus", "c"}, 125, "final rm: unknown flag: --bogus\nSee 'final rm --help'.\n"},
		{[]string{"run", "-m", "lots", "cfs/base"}, 125, "invalid size: 'lots'"},
		{[]string{"run", "--memory-swap", "1g", "cfs/base"}, 125, "You should always set the Memory limit when using Memoryswap limit"},
		{[]string{"run", "-m", "64m", "--memory-swap", "32m", "cfs/base"}, 125, "Minimum memoryswap limit should be larger than memory limit"},
		{[]string{"create", "-m", "64m", "--memory-swap", "lots", "cfs/base"}, 125, "invalid size: 'lots'"},
		{[]string{"create", "-w", "rel", "cfs/base"}, 125, "the working directory 'rel' is invalid"},
		{[]string{"run", "--rm", "--restart", "unless-stopped", "cfs/base"}, 125, "final run: conflicting options: cannot specify both --restart and --rm\n"},
		{[]string{"create", "--restart", "on-failure:x", "cfs/base"}, 125, "invalid restart policy format: maximum retry count must be an integer"},
		{[]string{"create", "--restart", ":3", "cfs/base"}, 125, "invalid restart policy format: no policy provided before colon"},
		{[]string{"run", "--restart", "sometimes", "cfs/base"}, 125, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
		{[]string{"run", "--restart", "always:3", "cfs/base"}, 125, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{[]string{"run", "--restart", "on-failure:-1", "cfs/base"}, 125, "invalid restart policy: maximum retry count cannot be negative"},
		{[]string{"update", "--restart", "on-failure:x", "c"}, 125, "invalid restart policy format: maximum retry count must be an integer"},
		{[]string{"update", "--memory-reservation", "lots", "c"}, 125, `invalid argument "lots" for "--memory-reservation" flag: invalid size: 'lots'`},
		{[]string{"create", "--cpuset-cpus", "0-x", "cfs/base"}, 125, "Invalid value 0-x for cpuset cpus"},
		{[]string{"create", "--cpus", "0.5", "--cpu-quota", "50000", "cfs/base"}, 125, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{[]string{"update", "--cpu-period", "x", "c"}, 125, `invalid argument "x" for "--cpu-period" flag`},
		{[]string{"volume", "create", "a/b"}, 1, `Error response from daemon: create a/b: "a/b" includes invalid characters for a local volume name`},
		{[]string{"volume", "create", "-d", "nfs", "v"}, 1, `plugin "nfs" not found`},
		{[]string{"volume", "create", "-o", "type=tmpfs", "v"}, 1, "take no driver options"},
		{[]string{"volume", "ls", "-f", "size=1"}, 1, "Error response from daemon: invalid filter 'size'"},
		{[]string{"volume", "rm", "cfs-no-such-volume"}, 1, "Error response from daemon: get cfs-no-such-volume: no such volume\n"},
		{[]string{"volume", "inspect", "cfs-no-such-volume"}, 1, "Error response from daemon: get cfs-no-such-volume: no such volume"},
	} {
		code, out, errOut := c.run("", tc.args...)
		require.Equal(t, tc.code, code, "%v: %s%s", tc.args, out, errOut)
		require.Contains(t, errOut, tc.stderr, tc.args)
	}
	code, out, _ := c.run("", "pull", "--help")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "Usage:  final pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nDownload an image from a registry\n\nOptions:\n"), out)
	require.Contains(t, out, "--insecure-registry HOST[:PORT]")
}

func TestSaveLoadImportPush(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "test/layers:v1", imagetest.TestImage(t, "linux/"+runtime.GOARCH))
	c := newCFS(t)
	ref := reg.Ref("test/layers:v1")
	c.ok("pull", "-q", ref)
	id := strings.TrimSpace(c.ok("images", "-q", "--no-trunc"))

	archive := filepath.Join(t.TempDir(), "saved.tar")
	require.Equal(t, "", c.ok("save", "-o", archive, ref))
	c2 := newCFS(t)
	require.Equal(t, "Loaded image: "+ref+"\n", c2.ok("load", "-i", archive))
	require.Equal(t, id+"\n", c2.ok("images", "-q", "--no-trunc"), "the same image ID after save and load")
	data, err := os.ReadFile(archive)
	require.NoError(t, err)
	c3 := newCFS(t)
	code, out, errOut := c3.run(string(data), "load")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "Loaded image: "+ref+"\n", out, "from stdin")
	c4 := newCFS(t)
	require.Equal(t, "Loaded image ID: "+id+"\n", c4.ok("load", "-i", saveByID(t, c, id)), "saved by ID: no name")

	tarball := string(imagetest.Tar(t, imagetest.Entry{Name: "hello", Body: "hi\n"}))
	code, out, errOut = c.run(tarball, "import", "-m", "by hand", "-c", "CMD [\"/hello\"]", "-", "imported:v1")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, out)
	require.Contains(t, c.ok("history", "imported:v1"), "by hand")

	c.ok("tag", ref, reg.Ref("test/pushed:v1"))
	out = c.ok("push", reg.Ref("test/pushed:v1"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "The push refers to repository ["+reg.Host+"/test/pushed]", lines[0])
	require.Regexp(t, `^[0-9a-f]{12}: (Pushed|Layer already exists)$`, lines[1])
	require.Regexp(t, `^v1: digest: sha256:[0-9a-f]{64} size: \d+$`, lines[4])

	// --trace narrates the requests on stderr.
	code, _, errOut = c2.run("", "pull", "--trace", reg.Ref("test/pushed:v1"))
	require.Equal(t, 0, code)
	require.Contains(t, errOut, "[cfs registry] GET http://"+reg.Host+"/v2/  ≈ curl -s 'http://"+reg.Host+"/v2/'\n[cfs registry] → 200 OK")
	require.Contains(t, errOut, "[cfs registry] GET http://"+reg.Host+"/v2/test/pushed/manifests/v1  ≈ curl -s -H 'Accept: ")
}

func saveByID(t *testing.T, c *cfs, id string) string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "by-id.tar")
	c.ok("save", "-o", archive, id)
	return archive
}

// each is docker's contract for a command on several containers: it goes
// on past a failure, prints each that worked on stdout and each failure on
// stderr, and the command's status is 1 if one failed (with nothing more
// printed).
func TestEach(t *testing.T) {
	var out, errb bytes.Buffer
	c := &CLI{Prog: "final", Out: &out, Err: &errb}
	op := func(a string) (string, error) {
		if strings.HasPrefix(a, "bad") {
			return "", errors.New("No such container: " + a)
		}
		return a, nil
	}
	err := c.each([]string{"a", "bad1", "b", "bad2"}, op)
	var se *statusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 1, se.code)
	require.Empty(t, se.msg, "the lines on stderr are all docker prints")
	require.Equal(t, "a\nb\n", out.String())
	require.Equal(t, "Error response from daemon: No such container: bad1\nError response from daemon: No such container: bad2\n", errb.String())

	out.Reset()
	errb.Reset()
	require.NoError(t, c.each([]string{"a", "b"}, op))
	require.Equal(t, "a\nb\n", out.String())
	require.Empty(t, errb.String())
}

// inspect shows the bridge network's address at the top of
// NetworkSettings too, as Debian's dockerd (20.10) does, where tutorials
// read it: docker inspect -f '{{.NetworkSettings.IPAddress}}' CONTAINER.
func TestInspectLegacyNetworkSettings(t *testing.T) {
	ep := &network.EndpointSettings{IPAddress: netip.MustParseAddr("172.29.0.2"), Gateway: netip.MustParseAddr("172.29.0.1"), IPPrefixLen: 24}
	require.NoError(t, ep.MacAddress.UnmarshalText([]byte("02:42:ac:1d:00:02")))
	r := container.InspectResponse{ID: "abc", NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{"bridge": ep}}}
	var out bytes.Buffer
	c := &CLI{Out: &out}
	require.NoError(t, c.printInspect([]any{withLegacyNetwork(r)}, "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.MacAddress}} {{.NetworkSettings.Networks.bridge.IPAddress}}"))
	require.Equal(t, "172.29.0.2 172.29.0.1 24 02:42:ac:1d:00:02 172.29.0.2\n", out.String())

	out.Reset()
	r.NetworkSettings.Networks = map[string]*network.EndpointSettings{"none": {}}
	require.NoError(t, c.printInspect([]any{withLegacyNetwork(r)}, ""))
	require.Equal(t, 1, strings.Count(out.String(), `"NetworkSettings"`))
	require.Contains(t, out.String(), `"IPAddress": "",`, "none: empty, as dockerd's")
	require.Regexp(t, `"Id": "abc"(.|\n)*"NetworkSettings"`, out.String(), "NetworkSettings last, as dockerd's")
}
