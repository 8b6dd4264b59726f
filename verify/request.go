package verify

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/param"
)

// Check names every problem of the request at once, before anything
// starts (no daemon, no clone, no registry): a person fixes them in one go.
// The error is a *RequestError. Run and Twice check first.
// A source and commit the request leaves out are read from the published
// image later (resolveParams).
func (r Request) Check() error { return r.check(false) }

// CheckTwice is Check for Twice: there is no published image to read the
// source and commit from, so both are required, and no image is named.
func (r Request) CheckTwice() error { return r.check(true) }

func (r Request) check(twice bool) error {
	var errs []error
	add := func(name, format string, args ...any) { errs = append(errs, param.Errorf(name, format, args...)) }
	if twice && r.Source == "" {
		add("Source", "{Source}: required (the git repository to build twice)")
	}
	if twice && r.Commit == "" {
		add("Commit", "{Commit}: required (the full commit id to build twice)")
	}
	// Source and commit may come from the published image; given, they
	// must be right.
	if twice && r.Source == SourceKit {
		add("Source", "{Source} %s: a build twice has no published image, and so no kit", SourceKit)
	} else if r.Source != "" && r.Source != SourceKit && !isURL(r.Source) {
		if st, err := os.Stat(r.Source); err != nil || !st.IsDir() {
			add("Source", "{Source} %s: not a directory, nor a git URL", r.Source)
		}
	}
	if r.Commit != "" && !gitid.Valid(r.Commit) {
		add("Commit", "{Commit} %q: want a full commit id (40 or 64 lower-case hex digits), not a branch, tag or abbreviation", r.Commit)
	}
	if twice {
		if r.Image != "" {
			errs = append(errs, fmt.Errorf("image %s: a build twice compares two builds of the source, not a published image", r.Image))
		}
	} else if r.Image == "" {
		add("Image", "{Image}: required (the published image; its provenance and labels can name the rest)")
	} else if _, err := image.ParseReference(r.Image); err != nil {
		add("Image", "{Image} %s: %w", r.Image, err)
	}
	for _, f := range [][2]string{{"Dockerfile", r.Dockerfile}, {"Context", r.Context}, {"Lock", r.Lock}, {"Bake", r.Bake}} {
		if p := f[1]; p != "" && !filepath.IsLocal(filepath.Clean(p)) && filepath.Clean(p) != "." {
			add(f[0], "{"+f[0]+"} %s: must be a path inside the source", p)
		}
	}
	for _, p := range r.Platforms {
		if _, err := image.ParsePlatform(p); err != nil {
			add("Platforms", "{Platforms} %s: %w", p, err)
		}
	}
	if s := r.SourceDateEpoch; s != "" && s != "auto" {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < 0 {
			add("SourceDateEpoch", "{SourceDateEpoch} %q: want auto or a number of seconds", s)
		}
	}
	if n := r.network(); n != builder.NetworkNone && n != builder.NetworkProxy {
		add("Network", "{Network} %q: want %s or %s", n, builder.NetworkNone, builder.NetworkProxy)
	}
	if r.Lock != "" && r.network() != builder.NetworkProxy {
		add("Lock", "{Lock} %s: only with {Network} proxy (a rebuild without network downloads nothing)", r.Lock)
	}
	if r.BakeTarget != "" && r.Bake == "" {
		add("BakeTarget", "{BakeTarget} %s: only with {Bake} FILE", r.BakeTarget)
	}
	if len(errs) == 0 {
		return nil
	}
	return &RequestError{errors.Join(errs...)}
}
