package dockercli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logs --since and --until: docker's forms of a time.
func TestLogTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Time{
		"":                            {},
		"42m":                         now.Add(-42 * time.Minute),
		"0":                           time.Unix(0, 0),
		"42":                          time.Unix(42, 0),
		"1700000000":                  time.Unix(1700000000, 0),
		"1700000000.5":                time.Unix(1700000000, 5e8),
		"2024-01-02T13:23:37Z":        time.Date(2024, 1, 2, 13, 23, 37, 0, time.UTC),
		"2024-01-02T13:23:37.5+01:00": time.Date(2024, 1, 2, 12, 23, 37, 5e8, time.UTC),
		"2024-01-02T13:23:37":         time.Date(2024, 1, 2, 13, 23, 37, 0, time.Local),
		"2024-01-02":                  time.Date(2024, 1, 2, 0, 0, 0, 0, time.Local),
	} {
		got, err := logTime("since", v, now)
		require.NoError(t, err, v)
		require.True(t, want.Equal(got), "%q: %v, want %v", v, got, want)
	}
	for _, v := range []string{"yesterday", "1e9", "2024-13-01"} {
		_, err := logTime("until", v, now)
		require.EqualError(t, err, `invalid value for "until": failed to parse value as time or duration: "`+v+`"`)
	}
}
