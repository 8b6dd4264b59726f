package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/limits"
)

func newKeygenCmd(g *globals) *cobra.Command {
	var out, typ string
	cmd := &cobra.Command{
		Use:   "keygen --out PREFIX [--type ed25519|ecdsa-p256]",
		Short: "Make a signing key pair: PREFIX.key (PKCS#8, mode 0600) and PREFIX.pub (PKIX)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out PREFIX is required")
			}
			k, err := attest.GenerateKey(out, attest.KeyType(typ))
			if err != nil {
				return err
			}
			id, _ := k.KeyID()
			fmt.Fprintf(g.stdout, "wrote %s.key and %s.pub (keyid %s)\n", out, out, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the files' prefix")
	cmd.Flags().StringVar(&typ, "type", "ed25519", "ed25519 or ecdsa-p256")
	return cmd
}

func newAttestCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "attest", Short: "Check signed verdicts"}
	cmd.AddCommand(newAttestVerifyCmd(g))
	return cmd
}

func newAttestVerifyCmd(g *globals) *cobra.Command {
	var (
		keys      []string
		threshold int
		alim      attest.Limits
		lim       limitFlags
		subject   string
		img       string
		insecure  []string
	)
	cmd := &cobra.Command{
		Use:   "verify --key PUB... [--threshold N] (--subject sha256:HEX FILE | --image IMAGE)",
		Short: "Check that a PASSED verification summary for an image is signed by the given keys",
		Long: `Check DSSE envelopes of in-toto statements (a JSON Lines file, or those
attached to an image in a registry): it passes when a PASSED SLSA verification
summary for the subject verifies with at least --threshold distinct given keys.

Exit status: 0 passed, 1 not (bad signature, wrong subject or key, FAILED
verdict, unknown predicate, none found), 2 malformed input.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(keys) == 0 {
				return errors.New("--key is required")
			}
			if err := lim.apply(); err != nil {
				return err
			}
			alim = limits.WithDefaults(alim, attest.DefaultLimits)
			var pubs []*attest.PublicKey
			for _, k := range keys {
				p, err := attest.LoadPublicKey(k)
				if err != nil {
					return err
				}
				pubs = append(pubs, p)
			}
			var envs [][]byte
			var subj string
			switch {
			case img != "" && subject == "" && len(args) == 0:
				d, e, err := attest.Fetch(ctx, img, attest.RegistryOptions{Transport: image.GuardedTransport(nil, insecure)})
				if err != nil {
					return err
				}
				subj, envs = d, e
			case img == "" && subject != "" && len(args) == 1:
				if _, err := image.ParseDigest(subject); err != nil {
					return fmt.Errorf("--subject: %w", err)
				}
				e, err := readJSONLines(args[0], alim)
				if err != nil {
					return err
				}
				subj, envs = subject, e
			default:
				return errors.New("give either --subject sha256:HEX FILE or --image IMAGE")
			}
			check := attest.Check
			if img != "" {
				check = attest.CheckAttached
			}
			v, err := check(ctx, envs, subj, pubs, threshold, alim)
			if err != nil {
				return err
			}
			if !v.Passed {
				fmt.Fprintf(g.stdout, "FAILED: %s\n", v.Reason)
				return exitCode(exitDifferent)
			}
			fmt.Fprintf(g.stdout, "PASSED: %s\n", v.Reason)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "a trusted public key (PEM or DER); repeatable")
	cmd.Flags().IntVar(&threshold, "threshold", 1, "distinct keys that must have signed a PASSED summary")
	cmd.Flags().StringVar(&subject, "subject", "", "the image digest the attestations must be about (with FILE)")
	cmd.Flags().StringVar(&img, "image", "", "read the attestations attached to this image in its registry")
	cmd.Flags().StringArrayVar(&insecure, "insecure-registry", nil, "registry host reached over plain HTTP (loopback always is)")
	lim.register(cmd, attestLimits(&alim))
	return cmd
}

// readJSONLines reads envelopes, one per line, under the envelope limits.
func readJSONLines(path string, lim attest.Limits) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var out [][]byte
	for n := 1; ; n++ {
		line, err := readLine(r, lim.MaxEnvelopeBytes)
		if len(bytes.TrimSpace(line)) > 0 {
			if len(out) == lim.MaxEnvelopes {
				return nil, fmt.Errorf("%s: %w: %w", path, attest.ErrMalformed, &limits.Error{What: "envelopes", Limit: "MaxEnvelopes", Max: int64(lim.MaxEnvelopes), Got: int64(len(out) + 1)})
			}
			out = append(out, line)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
}

func readLine(r *bufio.Reader, max int64) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: %w", attest.ErrMalformed, &limits.Error{What: "envelope line bytes", Limit: "MaxEnvelopeBytes", Max: max, Got: int64(len(buf))})
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}
