package inspect

// Severity ranks a finding: what --fail-on compares.
type Severity string

// The severities, from the most to the least serious.
const (
	High   Severity = "high"
	Medium Severity = "medium"
	Low    Severity = "low"
	Info   Severity = "info"
)

// Rank orders severities: High is 4, Info 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case High:
		return 4
	case Medium:
		return 3
	case Low:
		return 2
	case Info:
		return 1
	}
	return 0
}

// ParseSeverity reads a --fail-on value: a severity, or "none" (Rank 0:
// no finding reaches it).
func ParseSeverity(s string) (Severity, bool) {
	switch v := Severity(s); v {
	case High, Medium, Low, Info:
		return v, true
	case "none":
		return "", true
	}
	return "", false
}

// Check is one thing inspect looks for: its name (a finding's "check"),
// how serious it is, what a finding means and how to fix it.
type Check struct {
	Name     string
	Severity Severity
	What     string // what a finding means, one sentence
	Fix      string // what to do about it
}

// The checks' names.
const (
	SecretInFile      = "secretInFile"
	CredentialsFile   = "credentialsFile"
	SecretInEnv       = "secretInEnv"
	SecretInLabel     = "secretInLabel"
	SecretInHistory   = "secretInHistory"
	RunsAsRoot        = "runsAsRoot"
	SetuidFile        = "setuidFile"
	SetgidFile        = "setgidFile"
	WorldWritableDir  = "worldWritableDir"
	PipedDownload     = "pipedDownload"
	NoProvenance      = "noProvenance"
	LayerOddity       = "layerOddity"
	HiddenByDeletion  = "hiddenByDeletion"
	HiddenByOverwrite = "hiddenByOverwrite"
	PackageCache      = "packageCache"
	NotScanned        = "notScanned"
	MoreFindings      = "moreFindings"
)

// Checks are every check, the most serious first; docs/inspect.md is
// generated from them (go test ./inspect -run TestInspectDoc -update).
var Checks = []Check{
	{SecretInFile, High,
		"a private key or a cloud or forge token (AWS, GCP, GitHub, GitLab, Slack) is in a file of a layer; a file deleted or overwritten by a later layer still ships in the earlier one, and anyone who pulls the image can read it",
		"revoke the secret now (it is public to whoever pulled the image), then pass it to the build as a secret mount (`RUN --mount=type=secret`) so that no layer holds it"},
	{CredentialsFile, High,
		"a credentials file (`.env`, `.npmrc`, `.netrc`, `.docker/config.json`, `.git-credentials`) with a password or token in it is in a layer, deleted later or not",
		"revoke the credentials, and give them to the build as a secret mount instead of copying the file; add the file to `.dockerignore`"},
	{SecretInEnv, High,
		"an environment variable of the image config holds a secret: a token by pattern, or a non-empty value of a variable named like a password, token or key; every container and `docker inspect` shows it",
		"revoke the secret, remove the `ENV`, and give the value to the container at run time (an orchestrator's secret) or to the build as a secret mount"},
	{SecretInLabel, High,
		"a label of the image config holds a token or key",
		"revoke the secret and remove the label"},
	{SecretInHistory, High,
		"a build step recorded in the history holds a token or key, or a build argument named like a secret with its value (BuildKit records the values of the `ARG`s a `RUN` uses)",
		"revoke the secret; pass it as a secret mount (`RUN --mount=type=secret`), never as a build argument"},
	{RunsAsRoot, Medium,
		"the image runs as root: it sets no `USER`, or `USER 0`/`root`; a process that escapes its application holds every privilege the container has",
		"add a user and end the Dockerfile with `USER` naming it by number (e.g. `USER 65532`)"},
	{SetuidFile, Medium,
		"a file in the image is setuid: whoever runs it gets its owner's privileges (root's, for a file owned by root)",
		"remove the bit (`chmod u-s`) or the file, unless the image needs it and says why"},
	{SetgidFile, Medium,
		"a file in the image is setgid: whoever runs it gets its group's privileges",
		"remove the bit (`chmod g-s`) or the file, unless the image needs it and says why"},
	{WorldWritableDir, Low,
		"a directory anyone may write to has no sticky bit, so anyone may also delete or replace what others put in it",
		"remove the write bit for others (`chmod o-w`), or set the sticky bit (`chmod +t`) as `/tmp` has"},
	{PipedDownload, Low,
		"a build step piped a download into a shell or interpreter (`curl … | sh`): what ran was whatever the server sent that day, unchecked and unrecorded",
		"download to a file, check it against a pinned sha256 (`ADD --checksum=sha256:…`), then run it"},
	{NoProvenance, Low,
		"the image has no SLSA provenance about it (none, or one whose subject is another image): nothing says from which source, commit and Dockerfile it was built",
		"build with provenance (`docker buildx build --provenance=mode=max`, `buildctl … --opt attest:provenance=mode=max`) and push it with the image"},
	{LayerOddity, Low,
		"a layer's tar stream holds what unpackers treat in surprising ways (a name or symlink that climbs out of the root, data after the end-of-archive marker, an unknown entry type, …); the kind is in the evidence",
		"rebuild the image with a standard builder; `reprover diff` against a rebuild shows the layer"},
	{HiddenByDeletion, Info,
		"a file added by one layer is deleted (whited out) by a later one: it is invisible in a container, but every layer ships, so it is still in the image",
		"never add what a later step deletes: do both in one `RUN`, use a multi-stage build and copy only what ships, or a secret or cache mount"},
	{HiddenByOverwrite, Info,
		"a file added by one layer is replaced by another with other content in a later one: the earlier content still ships in its layer",
		"write the file once, in its final form, or build it in a stage that does not ship"},
	{PackageCache, Info,
		"a package manager's cache or index (apt lists and archives, apk, pip, npm) is left in the image: bytes every pull pays for, and a snapshot of package indexes that dates the image",
		"remove it in the same `RUN` that made it (`rm -rf /var/lib/apt/lists/*`, `pip install --no-cache-dir`, `apk add --no-cache`), or use a cache mount"},
	{NotScanned, Info,
		"files were not scanned for secrets: larger than the per-file limit, not text, or beyond the image's scan budget (the limits are in the evidence)",
		"inspect with larger limits (`--max-scan-file-bytes`, `--max-scan-bytes`) when these files may hold secrets"},
	{MoreFindings, Info,
		"a check found more than the report lists (at most `MaxFindingsPerCheck` findings per check and platform); the evidence counts the rest",
		"fix the findings listed, then inspect again"},
}

// CheckNamed is the check of that name.
func CheckNamed(name string) (Check, bool) {
	for _, c := range Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}
