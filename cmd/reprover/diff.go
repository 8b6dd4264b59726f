package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/files"
)

// imageFlags are the flags that say how to open images.
type imageFlags struct {
	platforms []string
	insecure  []string
	limits    image.Limits
	climits   compare.Limits
	parallel  int
	// diffoscope: look inside each differing file pair with diffoscope.
	diffoscope bool
	// decompressor: auto, go or igzip; index: the layer index's directory
	// ("off": none), bounded to indexBytes.
	decompressor string
	index        string
	indexBytes   int64
}

func (f *imageFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.platforms, "platform", nil, "compare only this platform (OS/ARCH[/VARIANT]); repeatable")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "registry host reached over plain HTTP (loopback always is); repeatable")
	fl.Int64Var(&f.limits.MaxManifestBytes, "max-manifest-bytes", image.DefaultLimits.MaxManifestBytes, "largest index or manifest accepted")
	fl.Int64Var(&f.limits.MaxConfigBytes, "max-config-bytes", image.DefaultLimits.MaxConfigBytes, "largest image config accepted")
	fl.IntVar(&f.limits.MaxManifests, "max-manifests", image.DefaultLimits.MaxManifests, "most manifests accepted in an index")
	fl.IntVar(&f.limits.MaxLayers, "max-layers", image.DefaultLimits.MaxLayers, "most layers accepted in an image")
	fl.Int64Var(&f.climits.MaxLayerBytes, "max-layer-bytes", compare.DefaultLimits.MaxLayerBytes, "most uncompressed bytes accepted in one layer")
	fl.Int64Var(&f.climits.MaxTotalBytes, "max-total-bytes", compare.DefaultLimits.MaxTotalBytes, "most uncompressed bytes read by one comparison")
	fl.IntVar(&f.climits.MaxEntries, "max-entries", compare.DefaultLimits.MaxEntries, "most tar entries accepted in one layer")
	fl.Int64Var(&f.climits.MaxTotalEntries, "max-total-entries", compare.DefaultLimits.MaxTotalEntries, "most tar entries kept by one comparison (in its scratch directory), all layers together")
	fl.Int64Var(&f.climits.MaxHeaderBytes, "max-header-bytes", compare.DefaultLimits.MaxHeaderBytes, "most bytes of tar names, link targets and PAX records kept for one layer")
	fl.IntVar(&f.parallel, "parallel", 4, "layers read at once")
	fl.StringVar(&f.decompressor, "decompressor", compare.DecompressAuto, "how gzip layers are decompressed: auto (ISA-L's igzip for gzip layers of 1 MiB or more when installed, else Go: docs/performance.md), go, or igzip")
	fl.StringVar(&f.index, "layer-index", "", "the directory of the layer index (what reading a layer learnt, by digest, so it is not read again); off for none (default $XDG_CACHE_HOME/reprover/layers)")
	fl.Int64Var(&f.indexBytes, "layer-index-max-bytes", compare.DefaultIndexBytes, "most bytes the layer index keeps, the least recently used layers evicted first")
	fl.BoolVar(&f.diffoscope, "diffoscope", false, "look inside each differing file with Debian's diffoscope (bounded, without network) and put its text in the report")
}

// compareOptions are the comparison's options; with --diffoscope, an
// error when diffoscope is not installed, before anything starts.
func (f *imageFlags) compareOptions(g *globals, nameA, nameB string) (compare.Options, error) {
	o, err := diffoscopeOptions(g, f.diffoscope)
	if err != nil {
		return o, err
	}
	o.Limits, o.Parallelism, o.NameA, o.NameB, o.Decompressor = f.climits, f.parallel, nameA, nameB, f.decompressor
	switch f.decompressor {
	case compare.DecompressAuto, compare.DecompressGo, compare.DecompressIgzip:
	default:
		return o, fmt.Errorf("--decompressor %q: want %s, %s or %s", f.decompressor, compare.DecompressAuto, compare.DecompressGo, compare.DecompressIgzip)
	}
	if f.index == "off" {
		return o, nil
	}
	dir := f.index
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return o, fmt.Errorf("--layer-index: no cache directory (%w): give one, or off", err)
		}
		dir = filepath.Join(cache, "reprover", "layers")
	}
	if o.Index, err = compare.OpenIndex(dir, f.indexBytes); err != nil {
		return o, fmt.Errorf("--layer-index %s: %w", dir, err)
	}
	return o, nil
}

// diffoscopeOptions are default comparison options, with diffoscope when
// asked for (an error naming the package when it is not installed).
func diffoscopeOptions(g *globals, diffoscope bool) (compare.Options, error) {
	o := compare.Options{Logger: g.logger()}
	if diffoscope {
		p, err := compare.FindDiffoscope()
		if err != nil {
			return o, err
		}
		o.Diffoscope = &compare.Diffoscope{Path: p}
	}
	return o, nil
}

// openOptions are how to open images: the registries and limits (verify
// passes the platforms in its request).
func (f *imageFlags) openOptions() image.Options {
	return image.Options{InsecureRegistries: f.insecure, Limits: f.limits}
}

// options are how to open images, with the platforms to compare.
func (f *imageFlags) options() (image.Options, error) {
	o := f.openOptions()
	for _, s := range f.platforms {
		p, err := image.ParsePlatform(s)
		if err != nil {
			return o, err
		}
		o.Platforms = append(o.Platforms, p)
	}
	return o, nil
}

// outputFlags choose the report's form.
type outputFlags struct {
	format string
	report string
}

func (f *outputFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "format", "text", "stdout format: text, json or html")
	cmd.Flags().StringVar(&f.report, "report", "", "also write the JSON report to this file")
}

func (f *outputFlags) check() error {
	switch f.format {
	case "text", "json", "html":
		return nil
	}
	return fmt.Errorf("--format %q: want text, json or html", f.format)
}

// report is what diff and verify write: a compare.Report or a
// verify.Report, each with its own JSON.
type report interface {
	WriteText(w io.Writer, o compare.TextOptions) error
	WriteHTML(w io.Writer) error
}

// write writes the report file and the report on stdout.
func (f *outputFlags) write(g *globals, rep report) error {
	if f.report != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := files.WriteRegular(f.report, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	switch f.format {
	case "json":
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "html":
		return rep.WriteHTML(g.stdout)
	default:
		return rep.WriteText(g.stdout, compare.TextOptions{Color: isTerminal(g.stdout)})
	}
}

func newDiffCmd(g *globals) *cobra.Command {
	var imgf imageFlags
	var out outputFlags
	var lim limitFlags
	cmd := &cobra.Command{
		Use:   "diff IMAGE-A IMAGE-B",
		Short: "Compare two images: manifest, config, every layer, every file",
		Long: `Compare two images and report every difference, seen from A to B
("added" means only in B). IMAGE is HOST[:PORT]/REPO[:TAG|@sha256:HEX],
oci:DIR[@sha256:HEX|:TAG] or oci-archive:FILE[@sha256:HEX].

Exit status: 0 the same (identical or equivalent: only the encoding differs),
1 different, 2 the comparison could not be done.`,
		Args: withUsage(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if err := lim.apply(); err != nil {
				return err
			}
			ctx := cmd.Context()
			copts, err := imgf.compareOptions(g, "A", "B")
			if err != nil {
				return err
			}
			opts, err := imgf.options()
			if err != nil {
				return err
			}
			var sides [2]*image.Resolved
			for i, ref := range args {
				r, err := image.Open(ctx, ref, opts)
				if err != nil {
					return err
				}
				defer r.Close()
				sides[i] = r
			}
			rep, err := compare.Images(ctx, sides[0], sides[1], copts)
			if err != nil {
				return err
			}
			if err := out.write(g, rep); err != nil {
				return err
			}
			if rep.Verdict == compare.Different {
				return exitCode(exitDifferent)
			}
			return nil
		},
	}
	imgf.register(cmd)
	out.register(cmd)
	lim.register(cmd, imageLimits(&imgf))
	return cmd
}
