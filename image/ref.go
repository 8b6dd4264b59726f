package image

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/reprover/reprover/internal/text"
)

// Transport says where an image lives.
type Transport string

const (
	Registry   Transport = "registry"
	Layout     Transport = "oci"
	Archive    Transport = "oci-archive"
	layoutPfx            = "oci:"
	archivePfx           = "oci-archive:"
)

// Reference is a parsed image reference.
type Reference struct {
	Transport Transport
	// Name is the registry reference (HOST/REPO, without tag or digest) or
	// the path of the layout directory or archive.
	Name   string
	Tag    string
	Digest v1.Hash // zero unless pinned
	raw    string
}

func (r Reference) String() string { return r.raw }

// Pinned reports whether the reference names a digest.
func (r Reference) Pinned() bool { return r.Digest.Hex != "" }

var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// ParseDigest accepts only "sha256:" followed by 64 lower-case hex digits:
// a digest reaches URLs and file names, so nothing else gets through.
func ParseDigest(s string) (v1.Hash, error) {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || alg != "sha256" || !sha256Hex.MatchString(hex) {
		return v1.Hash{}, fmt.Errorf("malformed digest %q: want sha256:<64 lower-case hex>", text.Truncate(s, 100))
	}
	return v1.Hash{Algorithm: alg, Hex: hex}, nil
}

// ParseReference parses HOST[:PORT]/REPO[:TAG][@sha256:HEX],
// oci:DIR[@sha256:HEX|:TAG] and oci-archive:FILE[@sha256:HEX].
func ParseReference(s string) (Reference, error) {
	r := Reference{raw: s}
	switch {
	case strings.HasPrefix(s, layoutPfx):
		r.Transport = Layout
		rest := strings.TrimPrefix(s, layoutPfx)
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			d, err := ParseDigest(rest[i+1:])
			if err != nil {
				return r, fmt.Errorf("image %q: %w", s, err)
			}
			r.Digest, rest = d, rest[:i]
		} else if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
			r.Tag, rest = rest[i+1:], rest[:i]
		}
		r.Name = rest
	case strings.HasPrefix(s, archivePfx):
		r.Transport = Archive
		rest := strings.TrimPrefix(s, archivePfx)
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			d, err := ParseDigest(rest[i+1:])
			if err != nil {
				return r, fmt.Errorf("image %q: %w", s, err)
			}
			r.Digest, rest = d, rest[:i]
		}
		r.Name = rest
	default:
		r.Transport = Registry
		rest := s
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			d, err := ParseDigest(rest[i+1:])
			if err != nil {
				return r, fmt.Errorf("image %q: %w", s, err)
			}
			r.Digest, rest = d, rest[:i]
		}
		if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
			r.Tag, rest = rest[i+1:], rest[:i]
		}
		if !strings.Contains(rest, "/") {
			return r, fmt.Errorf("image %q: want HOST[:PORT]/REPO[:TAG|@sha256:HEX], oci:DIR or oci-archive:FILE", s)
		}
		if r.Tag == "" && !r.Pinned() {
			r.Tag = "latest"
		}
		r.Name = rest
	}
	if r.Name == "" {
		return r, fmt.Errorf("image %q: empty name", s)
	}
	// "HOST/REPO:" would otherwise mean :latest (and "oci:DIR:" the whole
	// layout): a reference names exactly what it says or nothing.
	if strings.HasSuffix(strings.TrimSuffix(s, "@"+r.Digest.String()), ":") {
		return r, fmt.Errorf("image %q: empty tag", s)
	}
	return r, nil
}

// HTTPStatus is the HTTP status a registry answered with, when err is a
// registry's error response (0 otherwise): 401 and 403 mean credentials.
func HTTPStatus(err error) int {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode
	}
	return 0
}
