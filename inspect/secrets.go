package inspect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// pattern is one kind of secret found by its form wherever it is: in a
// file, a value of the config, a history line. Every expression is RE2
// (Go's regexp): linear in its input whatever the input.
type pattern struct {
	Name string
	Doc  string // what is looked for, for docs/inspect.md
	// Keywords: one of them must be in the text before the expression is
	// run (a cheap filter; none means always run).
	Keywords []string
	re       *regexp.Regexp
	// group is the submatch that is the secret (0: the whole match).
	group int
	// pem: the secret runs from the match to its END line.
	pem bool
}

var patterns = []pattern{
	{Name: "private key", Doc: "-----BEGIN … PRIVATE KEY----- (PEM: RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP)", Keywords: []string{"PRIVATE KEY"},
		re: regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`), pem: true},
	{Name: "AWS access key id", Doc: `AKIA… or ASIA… and 16 upper-case letters or digits`, Keywords: []string{"AKIA", "ASIA"},
		re: regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)},
	{Name: "AWS secret access key", Doc: `aws_secret_access_key (any case, _ optional) = 40 base64 characters`, Keywords: []string{"aws_secret", "AWS_SECRET", "secret_access_key", "SecretAccessKey", "SECRET_ACCESS_KEY"},
		re: regexp.MustCompile(`(?i)(?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})\b`), group: 1},
	{Name: "GCP API key", Doc: `AIza and 35 characters`, Keywords: []string{"AIza"},
		re: regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{Name: "GCP service account key", Doc: `"private_key_id": "40 hex digits" (a service account's key file)`, Keywords: []string{"private_key_id"},
		re: regexp.MustCompile(`"private_key_id"\s*:\s*"([0-9a-f]{40})"`), group: 1},
	{Name: "GitHub token", Doc: `ghp_, gho_, ghu_, ghs_ or ghr_ and 36 letters or digits; github_pat_ and 82`, Keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b`)},
	{Name: "GitLab token", Doc: `glpat- and 20 characters`, Keywords: []string{"glpat-"},
		re: regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20}\b`)},
	{Name: "Slack token", Doc: `xoxb-, xoxa-, xoxp-, xoxo-, xoxs- or xoxr- and at least 10 characters`, Keywords: []string{"xox"},
		re: regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{Name: "Slack webhook", Doc: `https://hooks.slack.com/services/…`, Keywords: []string{"hooks.slack.com"},
		re: regexp.MustCompile(`https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}`)},
}

// credentialFile is a file that holds credentials by its name: its
// lines are read for a non-empty value of a credential.
type credentialFile struct {
	Name string
	Doc  string
	// match reports whether a path is such a file.
	match func(p string) bool
	// line returns the secret on one line of the file ("" for none).
	line func(l string) string
}

var credentialFiles = []credentialFile{
	{Name: "`.env` file", Doc: "`.env` or `.env.*`: a line `NAME=value` whose name says password, secret, token, API or access key, private key or credential, and whose value is not empty nor a `$` reference",
		match: func(p string) bool { b := path.Base(p); return b == ".env" || strings.HasPrefix(b, ".env.") },
		line: func(l string) string {
			l = strings.TrimPrefix(strings.TrimSpace(l), "export ")
			k, v, ok := strings.Cut(l, "=")
			if !ok || !secretName(strings.TrimSpace(k)) {
				return ""
			}
			return secretValue(v)
		}},
	{Name: "`.npmrc`", Doc: "`.npmrc`: `_authToken=`, `_auth=` or `_password=` with a value that is not a `$` reference",
		match: func(p string) bool { return path.Base(p) == ".npmrc" },
		line: func(l string) string {
			for _, k := range []string{"_authToken=", "_auth=", "_password="} {
				if _, v, ok := strings.Cut(l, k); ok {
					return secretValue(v)
				}
			}
			return ""
		}},
	{Name: "`.netrc`", Doc: "`.netrc` or `_netrc`: a `password` token followed by a value",
		match: func(p string) bool { b := path.Base(p); return b == ".netrc" || b == "_netrc" },
		line: func(l string) string {
			f := strings.Fields(l)
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "password" {
					return secretValue(f[i+1])
				}
			}
			return ""
		}},
	{Name: "Docker `config.json`", Doc: "`.docker/config.json`: a non-empty `\"auth\"` or `\"identitytoken\"`",
		match: func(p string) bool { return strings.HasSuffix(p, "/.docker/config.json") },
		line: func(l string) string {
			if m := dockerAuth.FindStringSubmatch(l); m != nil {
				return m[1]
			}
			return ""
		}},
	{Name: "`.git-credentials`", Doc: "`.git-credentials`: a URL with a password (`https://user:password@host`)",
		match: func(p string) bool { return path.Base(p) == ".git-credentials" },
		line: func(l string) string {
			if m := urlPassword.FindStringSubmatch(l); m != nil {
				return m[1]
			}
			return ""
		}},
}

var (
	dockerAuth  = regexp.MustCompile(`"(?:auth|identitytoken)"\s*:\s*"([^"]+)"`)
	urlPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:([^@\s]+)@`)
	// secretWords are what a variable's name says when its value is a
	// secret.
	secretWords = regexp.MustCompile(`(?i)(?:passw(?:or)?d|secret|token|api_?key|access_?key|private_?key|credential)`)
)

// secretName reports whether a variable named n holds a secret by its
// name (DB_PASSWORD, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY), and not where
// to find or send one (POSTGRES_PASSWORD_FILE, TOKEN_URL).
func secretName(n string) bool { return secretWords.MatchString(n) && !notSecret.MatchString(n) }

// notSecret are names that say a variable holds where a secret is, or
// what goes with it, not the secret.
var notSecret = regexp.MustCompile(`(?i)_(?:file|path|dir|url|uri|host|port|user|username|name|endpoint|type|id|length|expiry|ttl)$`)

// secretValue is v, unquoted, when it can be a secret: not empty, not a
// reference to another variable ($X, ${X}).
func secretValue(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"'`)
	if v == "" || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "/run/secrets/") {
		return ""
	}
	return v
}

// Secret is a secret found: what it is, where in its text (line, from
// 1; 0 for a one-line value) and its fingerprint. The secret itself is
// never kept.
type Secret struct {
	Name        string
	Line        int
	Fingerprint string
}

func (s Secret) String() string {
	if s.Line > 0 {
		return fmt.Sprintf("%s on line %d, fingerprint %s", s.Name, s.Line, s.Fingerprint)
	}
	return fmt.Sprintf("%s, fingerprint %s", s.Name, s.Fingerprint)
}

// Fingerprint names a secret without showing it: the first 12 hex
// digits of its sha256.
func Fingerprint(secret []byte) string {
	h := sha256.Sum256(secret)
	return "sha256:" + hex.EncodeToString(h[:6])
}

// maxMatchesPerText bounds the secrets reported of one file or value (a
// file of 100k candidate matches makes one finding, not 100k).
const maxMatchesPerText = 8

// maxPEMBytes bounds how far the END line of a private key is looked for.
const maxPEMBytes = 64 << 10

// scanText finds secrets by pattern in b, at most maxMatchesPerText.
func scanText(b []byte) []Secret {
	var out []Secret
	for _, p := range patterns {
		if !hasKeyword(b, p.Keywords) {
			continue
		}
		for _, m := range p.re.FindAllSubmatchIndex(b, maxMatchesPerText-len(out)) {
			lo, hi := m[2*p.group], m[2*p.group+1]
			if lo < 0 {
				continue
			}
			if p.pem {
				hi = pemEnd(b, hi)
			}
			out = append(out, Secret{Name: p.Name, Line: bytes.Count(b[:lo], []byte("\n")) + 1, Fingerprint: Fingerprint(b[lo:hi])})
		}
		if len(out) >= maxMatchesPerText {
			break
		}
	}
	return out
}

// pemEnd is where the PEM block whose header ends at from ends: after
// its END line when there is one within maxPEMBytes (so the fingerprint
// is the key's), else from.
func pemEnd(b []byte, from int) int {
	rest := b[from:min(len(b), from+maxPEMBytes)]
	i := bytes.Index(rest, []byte("-----END "))
	if i < 0 {
		return from
	}
	j := bytes.Index(rest[i+9:], []byte("-----"))
	if j < 0 {
		return from
	}
	return from + i + 9 + j + 5
}

func hasKeyword(b []byte, kws []string) bool {
	if len(kws) == 0 {
		return true
	}
	for _, k := range kws {
		if bytes.Contains(b, []byte(k)) {
			return true
		}
	}
	return false
}

// scanCredentials finds the credentials of a credentials file, by line.
func scanCredentials(cf credentialFile, b []byte) []Secret {
	var out []Secret
	for n, l := range bytes.Split(b, []byte("\n")) {
		if v := cf.line(string(l)); v != "" {
			out = append(out, Secret{Name: cf.Name + " credential", Line: n + 1, Fingerprint: Fingerprint([]byte(v))})
			if len(out) >= maxMatchesPerText {
				break
			}
		}
	}
	return out
}

// credentialFileOf is the credentials file p is, if any.
func credentialFileOf(p string) (credentialFile, bool) {
	for _, cf := range credentialFiles {
		if cf.match(p) {
			return cf, true
		}
	}
	return credentialFile{}, false
}

// Redact is s with every secret a pattern finds in it, and the password
// of a URL (https://user:password@host), replaced by its name and
// fingerprint, so that a history line, a label or a URL can be shown.
func Redact(s string) string {
	b := []byte(s)
	type span struct {
		lo, hi int
		name   string
	}
	var spans []span
	for _, p := range patterns {
		if !hasKeyword(b, p.Keywords) {
			continue
		}
		for _, m := range p.re.FindAllSubmatchIndex(b, -1) {
			lo, hi := m[2*p.group], m[2*p.group+1]
			if lo < 0 {
				continue
			}
			if p.pem {
				hi = pemEnd(b, hi)
			}
			spans = append(spans, span{lo, hi, p.Name})
		}
	}
	for _, m := range urlPassword.FindAllStringSubmatchIndex(s, -1) {
		if secretValue(s[m[2]:m[3]]) != "" {
			spans = append(spans, span{m[2], m[3], "URL password"})
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	var out strings.Builder
	at := 0
	for _, sp := range spans {
		if sp.lo < at {
			continue // within the span before
		}
		out.WriteString(s[at:sp.lo])
		fmt.Fprintf(&out, "[%s %s]", sp.name, Fingerprint(b[sp.lo:sp.hi]))
		at = sp.hi
	}
	out.WriteString(s[at:])
	return out.String()
}

// scanValue finds secrets in a value of the config or a history line:
// by pattern, and a URL with a password (in a file, such a URL is more
// often an example than a leak; in the config it is what runs).
func scanValue(v string) []Secret {
	out := scanText([]byte(v))
	for _, m := range urlPassword.FindAllStringSubmatch(v, maxMatchesPerText) {
		if pw := secretValue(m[1]); pw != "" {
			out = append(out, Secret{Name: "password in a URL", Fingerprint: Fingerprint([]byte(pw))})
		}
	}
	return out
}
