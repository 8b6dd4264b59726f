package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/internal/faults"
	"github.com/reprover/reprover/internal/strictjson"
)

// store is where the documents and blobs of one image reference live.
type store interface {
	// top returns the bytes of the document the reference names and the
	// media type the store declared for it ("" when it declared none).
	top(ctx context.Context) ([]byte, types.MediaType, error)
	// blob opens the blob with digest d (a manifest, config or layer).
	// Callers verify what they read.
	blob(ctx context.Context, d v1.Hash) (io.ReadCloser, error)
	close() error
}

// registryStore reads from a registry over the distribution API.
type registryStore struct {
	ref  name.Reference
	repo name.Repository
	opts []remote.Option
}

func newRegistryStore(r Reference, o Options) (*registryStore, error) {
	host, _, _ := strings.Cut(r.Name, "/")
	var nopts []name.Option
	if o.insecure(host) {
		nopts = append(nopts, name.Insecure)
	}
	s := r.Name
	if r.Pinned() {
		s += "@" + r.Digest.String()
	} else {
		s += ":" + r.Tag
	}
	ref, err := name.ParseReference(s, append(nopts, name.StrictValidation)...)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", r.String(), err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithAuthFromKeychain(kc)}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	return &registryStore{ref: ref, repo: ref.Context(), opts: opts}, nil
}

func (s *registryStore) options(ctx context.Context) []remote.Option {
	// go-containerregistry retries "temporary" errors with sleeps that do
	// not watch the context; once ctx is done (a sibling layer failed, the
	// deadline passed) nothing is retried.
	retry := remote.WithRetryPredicate(func(err error) bool { return ctx.Err() == nil && faults.Transient(err) })
	return append([]remote.Option{remote.WithContext(ctx), retry}, s.opts...)
}

func (s *registryStore) top(ctx context.Context) ([]byte, types.MediaType, error) {
	d, err := remote.Get(s.ref, s.options(ctx)...)
	if err != nil {
		return nil, "", registryError(s.ref.String(), err)
	}
	return d.Manifest, d.MediaType, nil
}

func (s *registryStore) blob(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
	l, err := remote.Layer(s.repo.Digest(d.String()), s.options(ctx)...)
	if err != nil {
		return nil, registryError(s.repo.String()+"@"+d.String(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, registryError(s.repo.String()+"@"+d.String(), err)
	}
	return rc, nil
}

// manifest fetches a child manifest by digest through the manifests
// endpoint: registries serve manifests there, not as blobs.
func (s *registryStore) manifest(ctx context.Context, d v1.Hash) ([]byte, error) {
	desc, err := remote.Get(s.repo.Digest(d.String()), s.options(ctx)...)
	if err != nil {
		return nil, registryError(s.repo.String()+"@"+d.String(), err)
	}
	return desc.Manifest, nil
}

func (s *registryStore) close() error { return nil }

func registryError(what string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// layoutStore reads an OCI image layout: a directory, or a tar of one.
type layoutStore struct {
	ref   Reference
	limit int64
	open  func(path string) (io.ReadCloser, error)
	done  func() error
}

func newLayoutStore(r Reference, limit int64) (*layoutStore, error) {
	dir := r.Name
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("image %q: %w", r.String(), notFoundIfMissing(err))
	} else if !st.IsDir() {
		return nil, fmt.Errorf("image %q: %s is not a directory", r.String(), dir)
	}
	return &layoutStore{ref: r, limit: limit, done: func() error { return nil },
		open: func(p string) (io.ReadCloser, error) {
			f, err := os.Open(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return nil, notFoundIfMissing(err)
			}
			return f, nil
		}}, nil
}

func notFoundIfMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// newArchiveStore indexes the entries of an oci-archive once (seeking over
// their contents) and serves each blob as a section of the file.
func newArchiveStore(r Reference, limit int64, maxEntries int) (*layoutStore, error) {
	f, err := os.Open(r.Name)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", r.String(), notFoundIfMissing(err))
	}
	type span struct{ off, size int64 }
	index := map[string]span{}
	cr := &offsetReader{f: f}
	tr := tar.NewReader(cr)
	for n := 0; ; n++ {
		if n > maxEntries {
			f.Close()
			return nil, &LimitError{What: "oci-archive " + r.Name + " entries", Limit: "MaxManifests", Max: int64(maxEntries), Got: int64(n)}
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("image %q: reading archive: %w", r.String(), err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+h.Name)), "/")
		index[p] = span{cr.off, h.Size}
	}
	return &layoutStore{ref: r, limit: limit, done: f.Close,
		open: func(p string) (io.ReadCloser, error) {
			sp, ok := index[p]
			if !ok {
				return nil, fmt.Errorf("%s in %s: %w", p, r.Name, ErrNotFound)
			}
			return io.NopCloser(io.NewSectionReader(f, sp.off, sp.size)), nil
		}}, nil
}

// offsetReader tracks the position archive/tar has reached; it seeks
// instead of reading when tar skips an entry's contents.
type offsetReader struct {
	f   *os.File
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.f.Read(p)
	o.off += int64(n)
	return n, err
}

func (o *offsetReader) Seek(off int64, whence int) (int64, error) {
	n, err := o.f.Seek(off, whence)
	if err == nil {
		o.off = n
	}
	return n, err
}

func (s *layoutStore) blob(_ context.Context, d v1.Hash) (io.ReadCloser, error) {
	rc, err := s.open("blobs/" + d.Algorithm + "/" + d.Hex)
	if err != nil {
		return nil, fmt.Errorf("blob %s in %s: %w", d, s.ref.Name, err)
	}
	return rc, nil
}

func (s *layoutStore) close() error { return s.done() }

// top resolves the reference inside index.json: by digest, by the
// org.opencontainers.image.ref.name annotation, the only manifest, or else
// index.json itself as an index.
func (s *layoutStore) top(ctx context.Context) ([]byte, types.MediaType, error) {
	rc, err := s.open("index.json")
	if err != nil {
		return nil, "", fmt.Errorf("image %q: index.json: %w", s.ref.String(), err)
	}
	raw, err := readLimited(rc, s.limit, "index.json of "+s.ref.Name, "MaxManifestBytes")
	rc.Close()
	if err != nil {
		return nil, "", err
	}
	var idx struct {
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := strictjson.Unmarshal(raw, &idx, DefaultLimits.MaxJSONDepth); err != nil {
		return nil, "", fmt.Errorf("index.json of %s: %w", s.ref.Name, err)
	}
	// Errors name the reference: the blob's own error names only the
	// directory and the digest.
	pick := func(d v1.Descriptor) ([]byte, types.MediaType, error) {
		b, err := readBlobVerified(ctx, s, d, s.limit, "manifest", "MaxManifestBytes")
		if err != nil {
			return nil, "", fmt.Errorf("image %q: %w", s.ref.String(), err)
		}
		return b, d.MediaType, nil
	}
	// index.json is as untrusted as any index: unchecked, a negative size
	// read as "size unknown" and a sha512 digest as a missing blob.
	pickListed := func(d v1.Descriptor) ([]byte, types.MediaType, error) {
		if err := checkDescriptor(d); err != nil {
			return nil, "", fmt.Errorf("image %q: index.json: %w", s.ref.String(), err)
		}
		return pick(d)
	}
	switch {
	case s.ref.Pinned():
		for _, d := range idx.Manifests {
			if d.Digest == s.ref.Digest {
				return pickListed(d)
			}
		}
		// Any manifest blob of the layout may be named, e.g. one platform
		// of an index.
		return pick(v1.Descriptor{Digest: s.ref.Digest, Size: -1})
	case s.ref.Tag != "":
		for _, d := range idx.Manifests {
			if d.Annotations["org.opencontainers.image.ref.name"] == s.ref.Tag {
				return pickListed(d)
			}
		}
		return nil, "", fmt.Errorf("image %q: tag %q: %w", s.ref.String(), s.ref.Tag, ErrNotFound)
	case len(idx.Manifests) == 1:
		return pickListed(idx.Manifests[0])
	default:
		return raw, types.OCIImageIndex, nil
	}
}

// readLimited reads all of r, failing once more than limit bytes arrive.
func readLimited(r io.Reader, limit int64, what, limitName string) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if n > limit {
		return nil, &LimitError{What: what, Limit: limitName, Max: limit, Got: n}
	}
	return buf.Bytes(), nil
}
