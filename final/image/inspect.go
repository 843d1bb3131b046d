package image

import (
	"encoding/json"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	mobyimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"
)

// Inspect describes an image as docker image inspect does, in the Docker
// Engine API's own type (GET /images/NAME/json), so the API of part 4
// serves the same. GraphDriver shows where its layers are unpacked: the
// lower dirs that overlay stacks, top first.
func (img *Image) Inspect() mobyimage.InspectResponse {
	var cfg dockerspec.DockerOCIImageConfig
	raw, _ := json.Marshal(img.Config.Config) // the same JSON names: docker's
	_ = json.Unmarshal(raw, &cfg)
	out := mobyimage.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     nonNil(img.RepoTags),
		RepoDigests:  nonNil(img.RepoDigests),
		Comment:      lastComment(img.Config.History),
		Author:       img.Config.Author,
		Config:       &cfg,
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		Os:           img.Config.OS,
		OsVersion:    img.Config.OSVersion,
		Size:         img.Size,
		RootFS:       mobyimage.RootFS{Type: "layers"},
		Metadata:     mobyimage.Metadata{LastTagTime: img.Tagged},
	}
	if !img.Created().IsZero() {
		out.Created = img.Created().UTC().Format(time.RFC3339Nano)
	}
	for _, l := range img.Layers {
		out.RootFS.Layers = append(out.RootFS.Layers, l.DiffID.String())
	}
	if n := len(img.Layers); n > 0 {
		dirs := img.LowerDirs()
		out.GraphDriver = &storage.DriverData{Name: "overlay", Data: map[string]string{
			"LowerDir": strings.Join(dirs, ":"),
		}}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func lastComment(h []v1.History) string {
	if len(h) == 0 {
		return ""
	}
	return h[len(h)-1].Comment
}

// History is docker history's rows, the newest first (GET
// /images/NAME/history): one per line of the image's history, with the
// size of the layer it made (0 for a step that made none, such as CMD).
// The newest row carries the image's ID and names; older rows are
// "<missing>", as for any pulled image in docker (their intermediate
// images exist only where the image was built).
func (img *Image) History() []mobyimage.HistoryResponseItem {
	var rows []mobyimage.HistoryResponseItem
	layer := 0
	hist := img.Config.History
	if len(hist) == 0 {
		// An image without history: one row per layer.
		for range img.Layers {
			hist = append(hist, v1.History{Created: img.Config.Created})
		}
	}
	for _, h := range hist {
		row := mobyimage.HistoryResponseItem{ID: "<missing>", Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: nil}
		if h.Created.IsZero() {
			row.Created = 0
		}
		if !h.EmptyLayer && layer < len(img.Layers) {
			row.Size = img.Layers[layer].Size
			layer++
		}
		rows = append(rows, row)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	if len(rows) > 0 {
		rows[0].ID = img.ID.String()
		rows[0].Tags = img.RepoTags
	}
	return rows
}
