package builder

import (
	"regexp"
	"slices"
	"strings"
)

// downloader is a command that fetches from the network, and the
// subcommands that do (none: every use of the command does).
type downloader struct {
	cmd  string
	subs []string
}

// downloaders are the commands a RUN fetches with, as data. The list is a
// heuristic (docs/rules.md says so): it names the usual tools so that a
// rebuild without network fails before building, with the way out, rather
// than in the middle of a step with "Network is unreachable".
var downloaders = []downloader{
	{cmd: "wget"}, {cmd: "curl"},
	{cmd: "apt-get", subs: []string{"update", "install", "upgrade", "dist-upgrade", "download", "source", "build-dep"}},
	{cmd: "apt", subs: []string{"update", "install", "upgrade", "full-upgrade", "download", "source", "build-dep"}},
	{cmd: "aptitude", subs: []string{"update", "install", "upgrade", "download"}},
	{cmd: "apk", subs: []string{"add", "update", "upgrade", "fetch"}},
	{cmd: "dnf", subs: []string{"install", "update", "upgrade", "makecache", "download", "builddep"}},
	{cmd: "yum", subs: []string{"install", "update", "upgrade", "makecache", "download"}},
	{cmd: "microdnf", subs: []string{"install", "update", "upgrade", "makecache"}},
	{cmd: "zypper", subs: []string{"install", "in", "update", "up", "refresh", "ref"}},
	{cmd: "pip", subs: []string{"install", "download", "wheel"}},
	{cmd: "pip3", subs: []string{"install", "download", "wheel"}},
	{cmd: "pipx", subs: []string{"install", "run"}},
	{cmd: "uv", subs: []string{"pip", "sync", "add", "run", "tool"}},
	{cmd: "poetry", subs: []string{"install", "add", "update", "lock"}},
	{cmd: "npm", subs: []string{"install", "i", "ci", "add", "update", "exec"}},
	{cmd: "npx"},
	{cmd: "yarn", subs: []string{"", "install", "add", "upgrade", "dlx"}},
	{cmd: "pnpm", subs: []string{"install", "i", "add", "update", "fetch", "dlx"}},
	{cmd: "go", subs: []string{"get", "install", "mod"}},
	{cmd: "cargo", subs: []string{"fetch", "install", "build", "update"}},
	{cmd: "gem", subs: []string{"install", "update", "fetch"}},
	{cmd: "bundle", subs: []string{"", "install", "update"}},
	{cmd: "composer", subs: []string{"install", "update", "require"}},
	{cmd: "mvn"}, {cmd: "gradle"},
	{cmd: "git", subs: []string{"clone", "fetch", "pull", "submodule"}},
}

// shells are the interpreters a fetched script is piped into.
var shells = []string{"sh", "bash", "dash", "ash", "zsh", "ksh", "python", "python3", "perl", "ruby", "node"}

// separators split a shell script into simple commands (a heuristic, not
// a shell parser: quotes are not honoured).
var separators = regexp.MustCompile(`&&|\|\||[;\n()]|\$\(|` + "`")

// commandWords skips what stands before a command's name: variable
// assignments, and the wrappers that run another command with their flags.
func commandWords(words []string) []string {
	wrapped := false
	for len(words) > 0 {
		w := words[0]
		switch {
		case wrapped && strings.HasPrefix(w, "-"),
			strings.Contains(w, "=") && !strings.HasPrefix(w, "-"),
			w == "!", w == "{", w == "then", w == "do", w == "else":
		case slices.Contains(wrappers, w):
			wrapped = true
		default:
			return words
		}
		words = words[1:]
	}
	return nil
}

// wrappers run the command that follows them.
var wrappers = []string{"sudo", "env", "exec", "nice", "nohup", "time", "xargs", "command", "eatmydata", "retry", "timeout"}

// downloadTool says which downloader a simple command runs, if any.
func downloadTool(words []string) string {
	words = commandWords(words)
	if len(words) == 0 {
		return ""
	}
	name := words[0][strings.LastIndex(words[0], "/")+1:]
	if (name == "python" || name == "python3") && len(words) > 2 && words[1] == "-m" {
		name, words = words[2], words[2:]
	}
	for _, d := range downloaders {
		if d.cmd != name {
			continue
		}
		if d.subs == nil {
			return name
		}
		sub := ""
		for _, w := range words[1:] {
			if !strings.HasPrefix(w, "-") {
				sub = w
				break
			}
		}
		if slices.Contains(d.subs, sub) {
			return strings.TrimSpace(name + " " + sub)
		}
	}
	return ""
}

// scriptDownloads lists the downloaders a RUN script uses, in order, and
// whether it runs a fetched script unseen (curl … | sh, sh -c "$(curl …)").
func scriptDownloads(script string) (tools []string, pipedToShell bool) {
	for _, part := range separators.Split(script, -1) {
		stages := strings.Split(part, "|")
		for i, st := range stages {
			tool := downloadTool(strings.Fields(st))
			if tool == "" {
				continue
			}
			if !slices.Contains(tools, tool) {
				tools = append(tools, tool)
			}
			if (tool == "curl" || tool == "wget") && i+1 < len(stages) {
				if next := commandWords(strings.Fields(stages[i+1])); len(next) > 0 && slices.Contains(shells, next[0][strings.LastIndex(next[0], "/")+1:]) {
					pipedToShell = true
				}
			}
		}
	}
	if substituted.MatchString(script) {
		pipedToShell = true
	}
	return tools, pipedToShell
}

// substituted: a shell runs what a download printed, through a command or
// process substitution (sh -c "$(curl …)", bash <(wget -O- …)).
var substituted = regexp.MustCompile(`\b(sh|bash|dash|ash|zsh|ksh)\b[^|;&\n]*(\$\(|<\(|` + "`" + `)\s*(curl|wget)\b`)
