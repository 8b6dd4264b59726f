package image

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/internal/strictjson"
)

// Artifact is one OCI manifest that is not a runnable image (a reprover
// kit): its config and layers are whatever its artifactType says, so
// Open's image checks (diff_ids, platforms) do not apply. It is read from
// the same stores as images, under the same checks: the manifest hashed
// against the reference's digest, every blob read through a verifying
// reader.
type Artifact struct {
	Ref        Reference
	Descriptor v1.Descriptor // of the manifest
	Raw        []byte
	Manifest   *v1.Manifest
	st         store
}

// OpenArtifact reads the manifest ref names (a registry reference,
// oci:DIR[@…], oci-archive:FILE[@…]) and checks it is one manifest, not an
// index, of at most maxManifestBytes, every descriptor's digest well
// formed and no size negative. It reads no blob.
func OpenArtifact(ctx context.Context, ref string, o Options) (*Artifact, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	lim := o.Limits.withDefaults()
	st, err := openStore(r, o, lim)
	if err != nil {
		return nil, err
	}
	a, err := openArtifact(ctx, r, st, lim)
	if err != nil {
		st.close()
		return nil, err
	}
	return a, nil
}

func openArtifact(ctx context.Context, r Reference, st store, lim Limits) (*Artifact, error) {
	raw, declared, err := st.top(ctx)
	if err != nil {
		return nil, err
	}
	what := "artifact " + r.String()
	if int64(len(raw)) > lim.MaxManifestBytes {
		return nil, &LimitError{What: what, Limit: "MaxManifestBytes", Max: lim.MaxManifestBytes, Got: int64(len(raw))}
	}
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if r.Pinned() && h != r.Digest {
		return nil, &DigestError{What: what, Want: r.Digest, Got: h}
	}
	kind, mt, err := classify(raw, declared, lim)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", what, h, err)
	}
	if kind != kindManifest {
		return nil, fmt.Errorf("%s (%s) is an index, not one manifest", what, h)
	}
	m := new(v1.Manifest)
	if err := strictjson.Unmarshal(raw, m, lim.MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("%s (%s): %w", what, h, err)
	}
	if err := checkDescriptor(m.Config); err != nil {
		return nil, fmt.Errorf("%s: config: %w", what, err)
	}
	for i, l := range m.Layers {
		if err := checkDescriptor(l); err != nil {
			return nil, fmt.Errorf("%s: layers[%d]: %w", what, i, err)
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor(*m.Subject); err != nil {
			return nil, fmt.Errorf("%s: subject: %w", what, err)
		}
	}
	return &Artifact{Ref: r, Raw: raw, Manifest: m, st: st,
		Descriptor: v1.Descriptor{MediaType: mt, Digest: h, Size: n, ArtifactType: m.ArtifactType}}, nil
}

// Close releases the files an oci-archive holds open.
func (a *Artifact) Close() error { return a.st.close() }

// Blob opens the blob d describes; reading it to the end checks its digest
// and size (a *DigestError naming what otherwise).
func (a *Artifact) Blob(ctx context.Context, d v1.Descriptor, what string) (io.ReadCloser, error) {
	rc, err := a.st.blob(ctx, d.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return NewVerifyingReader(rc, what, d.Digest, d.Size), nil
}

// ReadBlob reads a small blob whole, at most limit bytes (limitName names
// the limit in the error), checked against d.
func (a *Artifact) ReadBlob(ctx context.Context, d v1.Descriptor, limit int64, what, limitName string) ([]byte, error) {
	return readBlobVerified(ctx, a.st, d, limit, what, limitName)
}

// NewVerifyingReader wraps rc so that reading it to the end fails, instead
// of returning io.EOF, when its bytes do not hash to want or are not size
// bytes long (size -1: unknown); a byte past size fails at once. The error
// is a *DigestError naming what and both digests (or both sizes).
func NewVerifyingReader(rc io.ReadCloser, what string, want v1.Hash, size int64) io.ReadCloser {
	return newVerifyingReader(rc, what, want, size)
}
