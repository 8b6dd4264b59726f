package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/reprover/reprover/internal/param"
)

// KeyType names a supported key algorithm.
type KeyType string

const (
	Ed25519   KeyType = "ed25519"
	ECDSAP256 KeyType = "ecdsa-p256"
)

// maxKeyFileBytes bounds a key file.
const maxKeyFileBytes = 64 << 10

// PrivateKey signs statements: a two-method DSSE signer.
type PrivateKey struct {
	key   crypto.Signer
	keyID string
}

// PublicKey verifies signatures.
type PublicKey struct {
	key   crypto.PublicKey
	keyID string
	der   []byte
}

// KeyID is the hex SHA-256 of the public key's PKIX DER.
func (k *PrivateKey) KeyID() (string, error) { return k.keyID, nil }

// KeyID is the hex SHA-256 of the public key's PKIX DER.
func (k *PublicKey) KeyID() (string, error) { return k.keyID, nil }

// ID is KeyID without an error.
func (k *PublicKey) ID() string { return k.keyID }

// Public returns the public half.
func (k *PrivateKey) Public() *PublicKey {
	p, _ := newPublicKey(k.key.Public())
	return p
}

// Sign signs data (DSSE's PAE): pure Ed25519, or ECDSA P-256 over SHA-256
// with an ASN.1 DER signature (what cosign verifies).
func (k *PrivateKey) Sign(_ context.Context, data []byte) ([]byte, error) {
	switch key := k.key.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(key, data), nil
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(data)
		return ecdsa.SignASN1(rand.Reader, key, h[:])
	}
	return nil, fmt.Errorf("unsupported key %T", k.key)
}

// Verify checks a signature over data.
func (k *PublicKey) Verify(_ context.Context, data, sig []byte) error {
	switch key := k.key.(type) {
	case ed25519.PublicKey:
		if ed25519.Verify(key, data, sig) {
			return nil
		}
	case *ecdsa.PublicKey:
		h := sha256.Sum256(data)
		if ecdsa.VerifyASN1(key, h[:], sig) {
			return nil
		}
	}
	return errors.New("signature does not verify")
}

// Public returns the crypto key (dsse.Verifier).
func (k *PublicKey) Public() crypto.PublicKey { return k.key }

func newPublicKey(pub crypto.PublicKey) (*PublicKey, error) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA curve %s is not supported: use P-256", p.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("%T keys are not supported: use Ed25519 or ECDSA P-256", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &PublicKey{key: pub, keyID: hex.EncodeToString(sum[:]), der: der}, nil
}

// ParsePrivateKey reads a PEM PKCS#8 private key (Ed25519 or ECDSA P-256),
// such as `openssl genpkey` writes. name is used in errors.
func ParsePrivateKey(b []byte, name string) (*PrivateKey, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: not a PEM file", name)
	}
	if strings.TrimSpace(string(rest)) != "" && strings.Contains(string(rest), "-----BEGIN") {
		return nil, fmt.Errorf("%s: more than one PEM block", name)
	}
	switch block.Type {
	case "PRIVATE KEY":
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%s: the key is encrypted; reprover reads unencrypted PKCS#8 keys (openssl pkcs8 -topk8 -nocrypt)", name)
	case "EC PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("%s: %s is not PKCS#8 (convert with openssl pkcs8 -topk8 -nocrypt)", name, block.Type)
	case "PUBLIC KEY":
		return nil, fmt.Errorf("%s: this is a public key; signing needs the private key", name)
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a private key", name, block.Type)
	}
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, fmt.Errorf("%s: the key is encrypted", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: %T keys are not supported", name, k)
	}
	pub, err := newPublicKey(s.Public())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &PrivateKey{key: s, keyID: pub.keyID}, nil
}

// ParsePublicKey reads a PEM PKIX public key, or the raw DER of one.
func ParsePublicKey(b []byte, name string) (*PublicKey, error) {
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: PEM block %q is not a PKIX public key", name, block.Type)
		}
		der = block.Bytes
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PEM or DER public key: %w", name, err)
	}
	k, err := newPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}

// LoadPrivateKey reads ParsePrivateKey's input from a file.
func LoadPrivateKey(path string) (*PrivateKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePrivateKey(b, path)
}

// LoadPublicKey reads ParsePublicKey's input from a file.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(b, path)
}

func readKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxKeyFileBytes {
		return nil, fmt.Errorf("%s: %d bytes is not a key file (limit %d)", path, st.Size(), maxKeyFileBytes)
	}
	return os.ReadFile(path)
}

// GenerateKey makes a key pair and writes PREFIX.key (PKCS#8 PEM, mode
// 0600) and PREFIX.pub (PKIX PEM). It refuses to overwrite either.
func GenerateKey(prefix string, t KeyType) (*PrivateKey, error) {
	var s crypto.Signer
	switch t {
	case Ed25519, "":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		s = k
	case ECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		s = k
	default:
		return nil, param.Errorf("KeyType", "{KeyType} %q: want %s or %s", t, Ed25519, ECDSAP256)
	}
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		return nil, err
	}
	pub, err := newPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub.der})
	if err := writeNew(prefix+".key", priv, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(prefix+".pub", pubPEM, 0o644); err != nil {
		os.Remove(prefix + ".key")
		return nil, err
	}
	return &PrivateKey{key: s, keyID: pub.keyID}, nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
