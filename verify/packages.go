package verify

import (
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/pins"
)

// movedDownloads are the downloads that moved since the release —
// changed (its pin's URL served other bytes), new (no pin names it) or
// missing (the release's, not fetched this time) — for the comparison to
// link a package that changed to those that are its file
// (compare.Options.Downloads): "jq changed; its .deb download is new
// (sha256:…); the release's .deb (sha256:…) was not fetched".
func movedDownloads(ds []Download) []compare.Download {
	var out []compare.Download
	for _, d := range ds {
		switch pins.State(d.State) {
		case pins.StateChanged, pins.StateNew, pins.StateMissing:
			out = append(out, compare.Download{URL: d.URL, State: d.State, SHA256: d.SHA256, Pinned: d.Pinned})
		}
	}
	return out
}
