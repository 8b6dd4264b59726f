package inspect

import (
	"strings"
	"testing"
)

// TestScanText: each pattern finds its secret, names it and
// fingerprints what matched; look-alikes are not secrets.
func TestScanText(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       []string // secret names
	}{
		{"PEM RSA key", "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n", []string{"private key"}},
		{"OpenSSH key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----", []string{"private key"}},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", nil},
		{"AWS key id", "id=AKIAREPROVERTEST0123", []string{"AWS access key id"}},
		{"AWS key id too short", "AKIAREPROVER", nil},
		{"AWS secret", `aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYREPROVERKY"`, []string{"AWS secret access key"}},
		{"GCP API key", "AIzaSyREPROVER_test-key-0123456789abcde", []string{"GCP API key"}},
		{"GCP service account", `{"type": "service_account", "private_key_id": "0123456789abcdef0123456789abcdef01234567"}`, []string{"GCP service account key"}},
		{"GitHub token", "ghp_R3proverTestTokenNotReal0123456789ab", []string{"GitHub token"}},
		{"GitHub fine-grained", "github_pat_" + strings.Repeat("a", 82), []string{"GitHub token"}},
		{"GitLab token", "glpat-REPROVERtest_0123456", []string{"GitLab token"}},
		{"Slack token", "xoxb-1234567890-abcdef", []string{"Slack token"}},
		{"Slack webhook", "https://hooks.slack.com/services/T000/B000/abcdefghijklmnop", []string{"Slack webhook"}},
		{"nothing", "PATH=/usr/bin", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, s := range scanText([]byte(c.text)) {
				got = append(got, s.Name)
				if !strings.HasPrefix(s.Fingerprint, "sha256:") || len(s.Fingerprint) != 19 {
					t.Errorf("fingerprint %q", s.Fingerprint)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("found %q, want %q", got, c.want)
			}
			if red := RedactInstruction(c.text); len(c.want) > 0 && red == c.text {
				t.Errorf("Redact left %q as it was", c.text)
			}
		})
	}
}

// TestURLPassword: a URL's password is a secret in the config and the
// history, and is never shown; a reference to a variable is not one.
func TestURLPassword(t *testing.T) {
	for _, c := range []struct {
		value string
		found int
	}{
		{"RUN /bin/sh -c git clone https://me:ghs-s3cret@git.example/app.git", 1},
		{"https://me:$TOKEN@git.example", 0},
		{"https://git.example/app.git", 0},
	} {
		if got := scanValue(c.value); len(got) != c.found {
			t.Errorf("scanValue(%q) = %v, want %d", c.value, got, c.found)
		}
		if strings.Contains(RedactInstruction(c.value), "ghs-s3cret") {
			t.Errorf("RedactInstruction(%q) shows the password", c.value)
		}
	}
}

// TestSecretName: a variable named like a secret holds one; one named
// for where a secret is does not.
func TestSecretName(t *testing.T) {
	for n, want := range map[string]bool{
		"DB_PASSWORD": true, "GITHUB_TOKEN": true, "AWS_SECRET_ACCESS_KEY": true, "api_key": true, "NPM_TOKEN": true,
		"POSTGRES_PASSWORD_FILE": false, "TOKEN_URL": false, "GPG_KEY": false, "PATH": false, "SECRET_KEY_ID": false,
	} {
		if got := secretName(n); got != want {
			t.Errorf("secretName(%q) = %v, want %v", n, got, want)
		}
	}
}

// TestCredentialFiles: a credentials file with a value is found; one
// that refers to a variable or is empty is not.
func TestCredentialFiles(t *testing.T) {
	for _, c := range []struct {
		path, text string
		found      int
	}{
		{"/app/.env", "DB_PASSWORD=x1\nNAME=y\nexport API_KEY='k'\n", 2},
		{"/app/.env.production", "SECRET_KEY=\nTOKEN=$FROM_ENV\n", 0},
		{"/root/.npmrc", "//registry.npmjs.org/:_authToken=npm_abc\n", 1},
		{"/root/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", 0},
		{"/root/.netrc", "machine example.com login me password s3cret\n", 1},
		{"/root/.docker/config.json", `{"auths": {"r.example": {"auth": "bWU6czNjcmV0"}}}`, 1},
		{"/root/.docker/config.json", `{"auths": {}}`, 0},
		{"/root/.git-credentials", "https://me:s3cret@git.example\n", 1},
		{"/root/.git-credentials", "https://git.example\n", 0},
	} {
		t.Run(c.path, func(t *testing.T) {
			cf, ok := credentialFileOf(c.path)
			if !ok {
				t.Fatalf("%s is not a credentials file", c.path)
			}
			if got := scanCredentials(cf, []byte(c.text)); len(got) != c.found {
				t.Errorf("found %v, want %d", got, c.found)
			}
		})
	}
}

// TestPipedToShell: a download piped to a shell or interpreter, or run
// through a substitution, in the history's forms.
func TestPipedToShell(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"RUN /bin/sh -c wget -qO- http://x/install.sh | sh # buildkit", true},
		{"RUN |1 V=2 /bin/sh -c curl -fsSL https://x/i.sh | sudo bash -s -- -y # buildkit", true},
		{"/bin/sh -c apk add curl && curl -sSL https://x | python3 -", true},
		{`RUN /bin/sh -c sh -c "$(curl -fsSL https://x/i.sh)"`, true},
		{"RUN /bin/sh -c bash <(wget -O- https://x)", true},
		{"RUN /bin/sh -c curl -o /tmp/i.sh https://x && sha256sum -c s && sh /tmp/i.sh", false},
		{"RUN /bin/sh -c wget -O- https://x | tar -xz", false},
		{"RUN /bin/sh -c echo hi | sh", false},
	} {
		if got := pipedToShell(c.line); got != c.want {
			t.Errorf("pipedToShell(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

// FuzzRedact: whatever the text, Redact and the scan end, and Redact
// leaves no secret the scan finds.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"ghp_R3proverTestTokenNotReal0123456789ab", "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----", "AKIAREPROVERTEST0123 AKIAREPROVERTEST0124", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := RedactInstruction(s)
		if got := scanText([]byte(r)); len(got) > 0 && len(r) < 1<<16 {
			// a redaction's brackets may make new text, never the old secret
			for _, sec := range scanText([]byte(s)) {
				for _, g := range got {
					if g.Fingerprint == sec.Fingerprint {
						t.Errorf("Redact(%q) = %q still holds %s", s, r, sec.Name)
					}
				}
			}
		}
	})
}
