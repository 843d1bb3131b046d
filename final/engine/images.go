package engine

// docker images --filter, for the command line and the API alike.

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"cfs/final/image"
)

// ImageFilterKeys are the keys of `docker images --filter` cfs has.
var ImageFilterKeys = []string{"reference", "dangling", "label", "before", "since"}

// ImageMatcher is docker images' filter: reference a glob of REPO or
// REPO:TAG (`docker images REPO[:TAG]` is one too), dangling true or
// false (an image without a name), label KEY or KEY=VALUE, before and
// since an image (made before or after it; get finds it). For an image
// that passes, it returns the names to show: with a reference filter only
// those that match, as dockerd answers.
func ImageMatcher(f Filter, get func(arg string) (*image.Image, error)) (func(*image.Image) (tags []string, ok bool), error) {
	times := map[string][]time.Time{}
	for key, values := range f {
		if !slices.Contains(ImageFilterKeys, key) {
			return nil, fmt.Errorf("invalid filter '%s' (cfs knows %s)", key, strings.Join(ImageFilterKeys, ", "))
		}
		for _, v := range values {
			switch key {
			case "dangling":
				if v != "true" && v != "false" {
					return nil, fmt.Errorf("invalid filter 'dangling=%s': true or false", v)
				}
			case "before", "since":
				img, err := get(v)
				if err != nil {
					return nil, err
				}
				times[key] = append(times[key], img.Created())
			}
		}
	}
	is := func(key string, ok func(v string) bool) bool {
		return len(f[key]) == 0 || slices.ContainsFunc(f[key], ok)
	}
	return func(img *image.Image) ([]string, bool) {
		tags := img.RepoTags
		if len(f["reference"]) > 0 {
			tags = slices.DeleteFunc(slices.Clone(tags), func(t string) bool {
				return !slices.ContainsFunc(f["reference"], func(pattern string) bool { return matchesReference(t, pattern) })
			})
			if len(tags) == 0 {
				return nil, false
			}
		}
		ok := is("dangling", func(v string) bool { return (v == "true") == (len(img.RepoTags) == 0) }) &&
			is("label", func(v string) bool { return HasLabel(img.Config.Config.Labels, v) }) &&
			is("before", func(string) bool { return slices.ContainsFunc(times["before"], img.Created().Before) }) &&
			is("since", func(string) bool { return slices.ContainsFunc(times["since"], img.Created().After) })
		return tags, ok
	}, nil
}

// matchesReference reports whether a name (repo:tag, as docker shows it)
// matches the pattern, as REPO or REPO:TAG, with docker's globs
// (path.Match).
func matchesReference(tag, pattern string) bool {
	repo := tag[:strings.LastIndex(tag, ":")]
	for _, name := range []string{tag, repo} {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}
