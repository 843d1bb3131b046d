package api

// Tests of the server's HTTP face that need no root and no engine: the
// version prefix, _ping's headers, docker's error form, the body limit,
// filters and frames.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cfs/final/engine"

	"github.com/stretchr/testify/require"
)

func TestPingAndVersionPrefix(t *testing.T) {
	srv := httptest.NewServer(New(&engine.Engine{}))
	defer srv.Close()
	for _, path := range []string{"/_ping", "/v1.47/_ping", "/v1.50/_ping"} {
		resp, err := http.Head(srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		// Without it the client falls back to API 1.24.
		require.Equal(t, APIVersion, resp.Header.Get("Api-Version"), path)
		require.Equal(t, "linux", resp.Header.Get("Ostype"))
	}
	resp, err := http.Get(srv.URL + "/_ping")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "OK", string(body))
}

func TestNotSupportedIsJSON(t *testing.T) {
	srv := httptest.NewServer(New(&engine.Engine{}))
	defer srv.Close()
	for _, path := range []string{"/v1.47/swarm", "/v1.47/build", "/v1.47/secrets", "/plugins"} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		var e struct{ Message string }
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		resp.Body.Close()
		require.Equal(t, http.StatusNotImplemented, resp.StatusCode, path)
		require.Contains(t, e.Message, "not supported by cfs")
	}
}

// A body larger than maxBody is refused as it comes, not read whole.
func TestBodyLimit(t *testing.T) {
	srv := httptest.NewServer(New(&engine.Engine{}))
	defer srv.Close()
	big := `{"Image":"` + strings.Repeat("a", 2*maxBody) + `"}`
	resp, err := http.Post(srv.URL+"/v1.47/containers/create", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	resp, err = http.Post(srv.URL+"/v1.47/containers/create", "application/json", strings.NewReader("{not json"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestFilters(t *testing.T) {
	f, err := parseFilters(`{"name":{"web":true},"status":["running"]}`, "name", "status")
	require.NoError(t, err)
	require.Equal(t, []string{"web"}, f["name"])
	require.Equal(t, []string{"running"}, f["status"])
	_, err = parseFilters(`{"ancestor":{"x":true}}`, "name")
	require.ErrorContains(t, err, "invalid filter 'ancestor'")
	require.Equal(t, http.StatusBadRequest, statusOf(err))
}

// The frame header: stream, three zeros, the size big-endian.
func TestFrame(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeFrame(&b, 2, []byte("hi\n")))
	require.Equal(t, []byte{2, 0, 0, 0, 0, 0, 0, 3, 'h', 'i', '\n'}, b.Bytes())
}

func TestStatusOf(t *testing.T) {
	require.Equal(t, http.StatusNotFound, statusOf(&engine.NotFoundError{Arg: "x"}))
	require.Equal(t, http.StatusNotFound, statusOf(&engine.ImageNotFoundError{Image: "x"}))
	require.Equal(t, http.StatusConflict, statusOf(&engine.ConflictError{Msg: "x"}))
	require.Equal(t, http.StatusBadRequest, statusOf(&engine.StartError{Msg: "x", Code: 127}))
	require.Equal(t, http.StatusInternalServerError, statusOf(io.ErrUnexpectedEOF))
}

func TestListenRefusesTCP(t *testing.T) {
	_, _, err := Listen("tcp://127.0.0.1:0", false, io.Discard)
	require.ErrorContains(t, err, "--allow-tcp")
	var warn bytes.Buffer
	ln, done, err := Listen("tcp://127.0.0.1:0", true, &warn)
	require.NoError(t, err)
	ln.Close()
	done()
	require.Contains(t, warn.String(), "WARNING")
	_, _, err = Listen("unix://relative.sock", false, io.Discard)
	require.ErrorContains(t, err, "absolute")
}
