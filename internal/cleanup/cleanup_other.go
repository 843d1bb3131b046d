//go:build !linux

package cleanup

import "errors"

// Run needs Linux: namespaces, cgroups and the rest exist nowhere else.
func Run(opt Options) (*Report, error) {
	return nil, errors.New("cleanup runs on Linux only")
}
