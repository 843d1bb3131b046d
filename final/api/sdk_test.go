package api_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
)

// The Go SDK, a second client, with moby's own demultiplexer (stdcopy)
// reading the frames: ping, version, create, attach, wait, start, logs,
// inspect, list, remove.
func TestGoSDK(t *testing.T) {
	setup(t)
	s := serve(t)
	ctx := t.Context()
	cli, err := client.New(client.WithHost("unix://"+s.sock), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()

	ping, err := cli.Ping(ctx, client.PingOptions{})
	require.NoError(t, err)
	require.Equal(t, "linux", ping.OSType)
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	require.NoError(t, err)
	require.Equal(t, "0.17.0-cfs", v.Version)

	name := names(t, s, "sdk")[0]
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
		Config:     &container.Config{Image: "cfs/base", Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, AttachStdout: true, AttachStderr: true},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	require.NoError(t, err)
	att, err := cli.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	require.NoError(t, err)
	defer att.Close()
	wait := cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	require.NoError(t, err)
	var out, errOut bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &errOut, att.Reader)
	require.NoError(t, err)
	require.Equal(t, "out\n", out.String())
	require.Equal(t, "err\n", errOut.String())
	select {
	case res := <-wait.Result:
		require.Equal(t, int64(7), res.StatusCode)
	case err := <-wait.Error:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("no wait result")
	}

	logs, err := cli.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	out.Reset()
	errOut.Reset()
	_, err = stdcopy.StdCopy(&out, &errOut, logs)
	logs.Close()
	require.NoError(t, err)
	require.Equal(t, "out\n", out.String())
	require.Equal(t, "err\n", errOut.String())

	insp, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	require.NoError(t, err)
	require.Equal(t, 7, insp.Container.State.ExitCode)
	require.Equal(t, "/"+name, insp.Container.Name)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	require.NoError(t, err)
	found := false
	for _, c := range list.Items {
		found = found || c.ID == created.ID && c.Names[0] == "/"+name
	}
	require.True(t, found, "the container is in the list, its name with a leading /")
	_, err = cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{})
	require.NoError(t, err)
	_, err = cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	require.Error(t, err)
}
