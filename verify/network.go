package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/pins"
)

// loadPins finds what every download of a proxied rebuild must equal: the
// lock file (--lock, else reprover.lock.json when the commit has it), else
// the download materials of the published image's own provenance. With no
// published image (Twice) and no lock file, it returns no set: the first
// build's downloads will be the pins.
func loadPins(ctx context.Context, req Request, s *source, pub *image.Resolved, lim image.Limits, lockLim pins.Limits) (*pins.Set, error) {
	rel, named := req.Lock, req.Lock != ""
	if !named {
		rel = pins.LockFile
	}
	if !filepath.IsLocal(filepath.Clean(rel)) {
		return nil, param.Errorf("Lock", "{Lock} %s: must be a path inside the source", rel)
	}
	lockPath := filepath.Join(s.checkout.Dir, rel)
	switch _, err := os.Lstat(lockPath); {
	case err == nil:
		if err := noSymlinks(s.checkout.Dir, rel, false); err != nil {
			return nil, param.Errorf("Lock", "{Lock} %s at %s: %w", rel, s.checkout.Commit, err)
		}
		l, err := pins.ReadLockFile(lockPath, filepath.ToSlash(rel)+" at "+s.checkout.Commit, lockLim)
		if err != nil {
			return nil, err
		}
		return l.Set(filepath.ToSlash(rel))
	case named || !errors.Is(err, os.ErrNotExist):
		return nil, param.Errorf("Lock", "{Lock} %s at %s: %w", rel, s.checkout.Commit, err)
	case pub == nil:
		return nil, nil
	}
	builds, unread, err := releaseProvenance(ctx, pub, lim)
	if err != nil {
		return nil, fmt.Errorf("reading the published image's provenance for pins: %w", err)
	}
	if len(unread) > 0 {
		return nil, fmt.Errorf("pins from provenance %w", unread[0])
	}
	all, err := provenancePins(builds, pub.Ref.Name)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 && req.AllowUnpinnedDownloads {
		return pins.NewSet(pins.FromNone, "no pins (the release recorded none)", nil)
	}
	if len(all) == 0 {
		return nil, param.Errorf("Lock", "%w: {Network} proxy checks every download of the rebuild against a pin, and the commit %s has no %s (write one with reprover lock, or give {Lock} FILE) and the published image's provenance lists no download (build it with buildctl --proxy-network and provenance), or give {AllowUnpinnedDownloads} to compare a rebuild whose downloads nothing pins", ErrNoPins, s.checkout.Commit, pins.LockFile)
	}
	return pins.NewSet(pins.FromProvenance, "the published image's provenance", all)
}

// proxyHosts are the hosts the proxy lets a RUN (and ADD) reach: those the
// pins and the ADD downloads name. A loopback, private or link-local host
// is left out unless allowed by name: pins come from the publisher, and
// must not make the verifier probe its own network.
func proxyHosts(set *pins.Set, adds []builder.Download, allow []string) (reach, refused []string) {
	all := set.Hosts()
	for _, d := range adds {
		if u, err := url.Parse(d.URL); err == nil && u.Host != "" && !slices.Contains(all, u.Host) {
			all = append(all, u.Host)
		}
	}
	for _, h := range all {
		name := h
		if host, _, err := net.SplitHostPort(h); err == nil {
			name = host
		}
		if hosts.LocalHost(strings.Trim(name, "[]")) && !slices.Contains(allow, name) && !slices.Contains(allow, h) {
			refused = append(refused, h)
			continue
		}
		reach = append(reach, h)
	}
	return reach, refused
}

// addDownloads are the ADD downloads as evidence, pinned by their checksum.
func addDownloads(adds []builder.Download) []Download {
	out := make([]Download, 0, len(adds))
	for _, d := range adds {
		out = append(out, Download{URL: d.URL, Checksum: d.Checksum, PinnedBy: pins.FromChecksum})
	}
	return out
}

// checkDownloads checks every request of a proxied rebuild against the
// pins; an ADD's own fetch is pinned by its checksum (BuildKit checked it).
func checkDownloads(captures []pins.Capture, set *pins.Set, adds []builder.Download) ([]Download, error) {
	checked, err := set.Check(runCaptures(captures, adds))
	out := addDownloads(adds)
	for _, c := range checked {
		out = append(out, Download{URL: c.URL, Method: c.Method, Status: c.Status, SHA256: c.SHA256, PinnedBy: c.PinnedBy})
	}
	return out, err
}

// compareDownloads says how every request of a proxied rebuild stands
// against the pins (pins.State): a download that changed, one no pin
// names and a pin the rebuild did not fetch are states in the report —
// the rebuild is still compared, and the verdict is the comparison's;
// one whose bytes are unknown (not captured whole, not a GET) is an error.
// An ADD's own fetch is pinned by its checksum (BuildKit checked it).
func compareDownloads(captures []pins.Capture, set *pins.Set, adds []builder.Download) ([]Download, pins.Summary, error) {
	checked, err := set.Compare(runCaptures(captures, adds))
	out := addDownloads(adds)
	for _, c := range checked {
		out = append(out, Download{URL: c.URL, Method: c.Method, Status: c.Status, SHA256: c.SHA256, PinnedBy: c.PinnedBy, State: string(c.State), Pinned: c.Pinned, FromKit: c.FromKit})
	}
	added := map[string]bool{}
	for _, d := range adds {
		added[pins.CanonicalURL(d.URL)] = true // as provenancePins spells its pin
	}
	var missing []pins.Pin
	for _, p := range set.Missing(checked) {
		if !added[p.URL] {
			missing = append(missing, p)
			out = append(out, Download{URL: p.URL, State: string(pins.StateMissing), Pinned: p.SHA256})
		}
	}
	return out, pins.Summarize(checked, missing), err
}

// runCaptures are the captures of a proxied build but the ADD downloads
// BuildKit checked against their checksums.
func runCaptures(captures []pins.Capture, adds []builder.Download) []pins.Capture {
	addSum := map[string]string{}
	for _, d := range adds {
		if sum, ok := strings.CutPrefix(d.Checksum, "sha256:"); ok {
			addSum[d.URL] = sum
		}
	}
	var rest []pins.Capture
	for _, c := range captures {
		if sum := addSum[c.URL]; sum == "" || c.SHA256 != sum {
			rest = append(rest, c)
		}
	}
	return rest
}

// offlineSigns are what tools print when a step has no network.
var offlineSigns = []string{"Network is unreachable", "Could not resolve", "Temporary failure resolving", "bad address", "can't connect to remote host", "Could not connect", "Name or service not known"}

// offlineHint says, when a step of a rebuild without network failed
// trying the network, what would let it.
func offlineHint(err error, network string) error {
	var be *builder.BuildError
	if network != builder.NetworkNone || !errors.As(err, &be) {
		return err
	}
	tail := strings.Join(be.LogTail, "\n")
	for _, s := range offlineSigns {
		if strings.Contains(tail, s) {
			return param.Errorf("Network", "%w\nthis step tried the network, which a rebuild with {Network} none does not have: verify with {Network} proxy, which lets RUN download through BuildKit's capturing proxy and checks each download against a pin (reprover.lock.json, written by reprover lock, or the release's provenance); see docs/network.md", err)
		}
	}
	return err
}
