package kit

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/files"
)

// descriptor is the kit manifest's descriptor, with its artifact type.
func (k *Kit) descriptor() v1.Descriptor {
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: k.digest, Size: int64(len(k.manifest)), ArtifactType: ArtifactType}
}

// blobList is the kit's blobs, the config first, each once.
func (k *Kit) blobList() ([]v1.Descriptor, []byte, error) {
	m := k.m
	out := []v1.Descriptor{m.Config}
	seen := map[v1.Hash]bool{m.Config.Digest: true}
	for _, l := range m.Layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			out = append(out, l)
		}
	}
	return out, k.configRaw, nil
}

// openBlob opens one of the kit's blobs, the config from memory.
func (k *Kit) openBlob(ctx context.Context, d v1.Descriptor, cfg []byte) (io.ReadCloser, error) {
	if d.MediaType == ConfigMediaType {
		return io.NopCloser(bytesReader(cfg)), nil
	}
	return k.blobs.open(ctx, d, what(d))
}

// WriteTo writes the kit as an OCI image layout whose index.json lists the
// kit's manifest alone: oci:DIR (a directory that does not exist yet, or
// is empty) or oci-archive:FILE (a new file, or a regular file replaced).
// Every blob is checked again as it is copied, and nothing is left at
// dest when one fails.
func (k *Kit) WriteTo(ctx context.Context, dest string) error {
	r, err := image.ParseReference(dest)
	if err != nil {
		return err
	}
	if r.Tag != "" || r.Pinned() {
		return fmt.Errorf("writing the kit to %s: name a directory or file, without a tag or digest", dest)
	}
	switch r.Transport {
	case image.Layout:
		return k.writeDir(ctx, r.Name)
	case image.Archive:
		return k.writeArchive(ctx, r.Name)
	}
	return fmt.Errorf("writing the kit to %s: want oci:DIR or oci-archive:FILE (push to a registry with Push)", dest)
}

// layoutFiles calls put for every file of the kit's layout, in order.
func (k *Kit) layoutFiles(ctx context.Context, put func(path string, size int64, r io.Reader) error) error {
	blobs, cfg, err := k.blobList()
	if err != nil {
		return err
	}
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	if err := put("oci-layout", int64(len(layout)), bytesReader(layout)); err != nil {
		return err
	}
	for _, d := range append(blobs, v1.Descriptor{Digest: k.digest, Size: int64(len(k.manifest))}) {
		var rc io.ReadCloser
		if d.Digest == k.digest {
			rc = io.NopCloser(bytesReader(k.manifest))
		} else if rc, err = k.openBlob(ctx, d, cfg); err != nil {
			return err
		}
		err := put("blobs/sha256/"+d.Digest.Hex, d.Size, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	idx, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{k.descriptor()}})
	if err != nil {
		return err
	}
	return put("index.json", int64(len(idx)), bytesReader(idx))
}

func (k *Kit) writeDir(ctx context.Context, dir string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("writing the kit to oci:%s: the directory is not empty", dir)
	} else if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("writing the kit to oci:%s: %w", dir, err)
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("writing the kit to oci:%s: %w", dir, err)
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	defer root.Close()
	err = k.layoutFiles(ctx, func(p string, size int64, r io.Reader) error {
		if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err == nil {
		os.Remove(dir) // an empty directory is replaced
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("writing the kit to oci:%s: %w", dir, err)
	}
	return nil
}

func (k *Kit) writeArchive(ctx context.Context, file string) error {
	if err := files.Writable(file); err != nil {
		return fmt.Errorf("writing the kit to oci-archive:%s: %w", file, err)
	}
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing the kit to oci-archive:%s: %w", file, err)
	}
	tw := tar.NewWriter(f)
	dirs := map[string]bool{}
	err = k.layoutFiles(ctx, func(p string, size int64, r io.Reader) error {
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			if len(p) > len(d) && p[:len(d)] == d && !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
					return err
				}
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing the kit to oci-archive:%s: %w", file, err)
	}
	return nil
}

// Push uploads the kit to repo (HOST/REPO, the image's repository) as a
// referrer of its subject: the registry's referrers API lists it, and
// for a registry without one go-containerregistry updates the referrers
// tag (sha256-HEX) instead. It returns the kit's reference.
func (k *Kit) Push(ctx context.Context, repo string, o Options) (string, error) {
	r, err := o.repository(repo)
	if err != nil {
		return "", fmt.Errorf("pushing the kit to %s: %w", repo, err)
	}
	opts := o.remote(ctx)
	blobs, cfg, err := k.blobList()
	if err != nil {
		return "", err
	}
	for _, d := range blobs {
		l, err := partial.CompressedToLayer(blobLayer{k: k, ctx: ctx, d: d, cfg: cfg})
		if err != nil {
			return "", err
		}
		if err := remote.WriteLayer(r, l, opts...); err != nil {
			return "", fmt.Errorf("pushing the kit's blob %s (%s) to %s: %w", d.Digest, blobName(d), repo, err)
		}
	}
	ref := r.Digest(k.digest.String())
	if err := remote.Put(ref, rawManifest(k.manifest), opts...); err != nil {
		return "", fmt.Errorf("pushing the kit's manifest to %s: %w", repo, err)
	}
	return ref.String(), nil
}

func blobName(d v1.Descriptor) string {
	if d.MediaType == ConfigMediaType {
		return "config"
	}
	return what(d)
}

// blobLayer is one kit blob as go-containerregistry's CompressedLayer.
type blobLayer struct {
	k   *Kit
	ctx context.Context
	d   v1.Descriptor
	cfg []byte
}

func (b blobLayer) Digest() (v1.Hash, error)            { return b.d.Digest, nil }
func (b blobLayer) Size() (int64, error)                { return b.d.Size, nil }
func (b blobLayer) MediaType() (types.MediaType, error) { return b.d.MediaType, nil }
func (b blobLayer) Compressed() (io.ReadCloser, error)  { return b.k.openBlob(b.ctx, b.d, b.cfg) }

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
