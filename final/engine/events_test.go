package engine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/require"
)

// The journal turns to a new file past journalMax; a reader from the
// past gets every event once, in order, from both files, and so does
// one that follows while the turn happens.
func TestJournal(t *testing.T) {
	e := &Engine{RunRoot: t.TempDir()}
	start := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	followed := make(chan string, 1<<16)
	following := make(chan error, 1)
	go func() {
		following <- e.Events(ctx, EventsOptions{Since: start}, func(m events.Message) error {
			followed <- m.Actor.ID
			return nil
		})
	}()
	n := 0
	for ; ; n++ {
		e.ImageEvent(strconv.Itoa(n), events.ActionTag)
		if _, err := os.Stat(filepath.Join(e.RunRoot, "events.json.old")); err == nil {
			break
		}
	}
	for i := 1; i <= 10; i++ { // into the new journal
		e.ImageEvent(strconv.Itoa(n+i), events.ActionTag)
	}
	n += 11
	old, err := os.Stat(filepath.Join(e.RunRoot, "events.json.old"))
	require.NoError(t, err)
	require.Greater(t, old.Size(), int64(journalMax))
	cur, err := os.Stat(filepath.Join(e.RunRoot, "events.json"))
	require.NoError(t, err)
	require.Less(t, cur.Size(), int64(4096), "a new journal starts empty")

	for i := 0; i < n; i++ {
		select {
		case id := <-followed:
			require.Equal(t, strconv.Itoa(i), id, "the follower's event %d", i)
		case <-time.After(time.Minute):
			t.Fatalf("the follower had %d events of %d after a minute", i, n)
		}
	}
	cancel()
	require.NoError(t, <-following)
	require.Empty(t, followed, "no event twice")

	var past []string
	require.NoError(t, e.Events(t.Context(), EventsOptions{Since: start, Until: time.Now()}, func(m events.Message) error {
		past = append(past, m.Actor.ID)
		return nil
	}))
	require.Len(t, past, n)
	for i, id := range past {
		require.Equal(t, strconv.Itoa(i), id)
	}
	// Without Since, nothing from the past.
	none := 0
	require.NoError(t, e.Events(t.Context(), EventsOptions{Until: time.Now()}, func(events.Message) error { none++; return nil }))
	require.Zero(t, none)
}

func TestEventMatcher(t *testing.T) {
	die := events.Message{Type: events.ContainerEventType, Action: events.ActionDie,
		Actor: events.Actor{ID: "0123456789ab" + "cdef", Attributes: map[string]string{"name": "web", "image": "cfs/base", "tier": "front"}}}
	tag := events.Message{Type: events.ImageEventType, Action: events.ActionTag,
		Actor: events.Actor{ID: "cfs/base:2", Attributes: map[string]string{"name": "cfs/base:2"}}}
	for _, c := range []struct {
		f        Filter
		die, tag bool
	}{
		{Filter{}, true, true},
		{Filter{"type": {"container"}}, true, false},
		{Filter{"type": {"image", "container"}}, true, true},
		{Filter{"event": {"die"}}, true, false},
		{Filter{"event": {"start", "tag"}}, false, true},
		{Filter{"container": {"web"}}, true, false},
		{Filter{"container": {"0123"}}, true, false},
		{Filter{"container": {"db"}}, false, false},
		{Filter{"image": {"cfs/base"}}, true, false},
		{Filter{"image": {"cfs/base:2"}}, false, true},
		{Filter{"label": {"tier=front"}}, true, false},
		{Filter{"label": {"tier=back"}}, false, false},
		{Filter{"type": {"container"}, "event": {"tag"}}, false, false},
	} {
		match, err := EventMatcher(c.f)
		require.NoError(t, err)
		require.Equal(t, c.die, match(die), "%v on die", c.f)
		require.Equal(t, c.tag, match(tag), "%v on tag", c.f)
	}
	_, err := EventMatcher(Filter{"bogus": {"1"}})
	require.EqualError(t, err, "invalid filter 'bogus' (cfs knows type, event, container, image, label)")
}

// A prune's --filter: until, label and label! as docker's.
func TestPruneMatcher(t *testing.T) {
	hour := time.Now().Add(-time.Hour)
	old := func(m PruneMatch) bool {
		return m(hour.Add(-time.Minute), map[string]string{"tier": "web", "keep": ""})
	}
	young := func(m PruneMatch) bool { return m(time.Now(), nil) }
	for _, c := range []struct {
		f          Filter
		old, young bool
	}{
		{Filter{}, true, true},
		{Filter{"until": {"30m"}}, true, false},
		{Filter{"until": {"2h"}}, false, false},
		{Filter{"until": {hour.Format(time.RFC3339Nano)}}, true, false},
		{Filter{"until": {strconv.FormatInt(hour.Unix(), 10)}}, true, false},
		{Filter{"label": {"tier"}}, true, false},
		{Filter{"label": {"tier=web", "keep"}}, true, false},
		{Filter{"label": {"tier=db"}}, false, false},
		{Filter{"label!": {"keep"}}, false, true},
		{Filter{"label!": {"tier=db"}}, true, true},
	} {
		m, err := PruneMatcher(c.f)
		require.NoError(t, err)
		require.Equal(t, c.old, old(m), "%v, an hour old and labelled", c.f)
		require.Equal(t, c.young, young(m), "%v, new and without labels", c.f)
	}
	_, err := PruneMatcher(Filter{"until": {"yesterday"}})
	require.EqualError(t, err, `invalid filter 'until=yesterday': failed to parse value as time or duration: "yesterday"`)
	_, err = PruneMatcher(Filter{"dangling": {"true"}})
	require.EqualError(t, err, "invalid filter 'dangling' (cfs knows until, label, label!)")
}
