package builder

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"

	"github.com/reprover/reprover/internal/limits"
)

// proxyHeader starts the list of requests BuildKit prints at the end of a
// proxied step's stderr (v0.34.2 solver/llbsolver/ops/exec.go,
// logProxyRequests: the header, then "- METHOD URL -> STATUS\n" per
// request, or "- METHOD URL\n" with no status).
const proxyHeader = "proxy network requests:"

// maxLogLine bounds a line kept while reading a step's stderr: a request
// line is at most the proxy's request line (Go's http.Server reads at most
// 1 MiB of headers) and a little more.
const maxLogLine = 1<<20 + 1024

var requestLine = regexp.MustCompile(`^- (\S+) (\S+)(?: -> (\d{1,3}))?$`)

// proxyLog reads the request list of each proxied step from its stderr.
// It is free text in the step's own stream, so it is never where captures
// come from (the provenance is, see mergeCaptures), only a cross-check:
//
//   - BuildKit writes the list after the step's process ended, so only a
//     list that runs to the end of the stream is BuildKit's: a header (on
//     its own line, or glued onto the step's last line when that had no
//     newline) followed by request lines and nothing else. A list the step
//     printed itself before that is dropped when the next header comes.
//   - A step that made no request gets no list from BuildKit, so a list it
//     printed last stands: its requests are then missing from the
//     provenance, and the build is an error. A forged list can only fail a
//     build, never hide a request.
//   - BuildKit clips a step's log past 2 MiB (util/progress/logs): the list
//     is then lost, and the provenance alone speaks.
type proxyLog struct {
	mu    sync.Mutex
	steps map[digest.Digest]*stepLog
	n     int // requests held, over every step
	err   error
}

// stepLog is one step's stderr as far as it matters here.
type stepLog struct {
	line     []byte // the line not yet ended (its tail, when too long)
	long     bool   // the line not yet ended is longer than maxLogLine
	list     []request
	open     bool // a header was read and every line since is a request
	trailing bool // output followed the last complete line
}

func newProxyLog() *proxyLog {
	return &proxyLog{steps: map[digest.Digest]*stepLog{}}
}

func (l *proxyLog) add(st *client.SolveStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lg := range st.Logs {
		if lg.Stream != 2 {
			continue
		}
		s := l.steps[lg.Vertex]
		if s == nil {
			s = &stepLog{}
			l.steps[lg.Vertex] = s
		}
		l.write(s, lg.Data)
	}
}

func (l *proxyLog) write(s *stepLog, data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.line = append(s.line, data...)
			if len(s.line) > maxLogLine {
				// Keep only what could still end in a header.
				s.line = append(s.line[:0], s.line[len(s.line)-len(proxyHeader):]...)
				s.long = true
			}
			break
		}
		line := data[:i]
		long := s.long || len(s.line)+len(line) > maxLogLine
		if len(s.line) > 0 {
			line = append(s.line, line...)
		}
		l.line(s, string(line), long)
		s.line, s.long = s.line[:0], false
		data = data[i+1:]
	}
	s.trailing = len(s.line) > 0
}

func (l *proxyLog) line(s *stepLog, line string, long bool) {
	if strings.HasSuffix(line, proxyHeader) {
		l.n -= len(s.list)
		s.list, s.open = nil, true
		return
	}
	if !s.open {
		return
	}
	m := requestLine.FindStringSubmatch(line)
	if m == nil || long {
		l.n -= len(s.list)
		s.list, s.open = nil, false
		return
	}
	status, _ := strconv.Atoi(m[3])
	s.list = append(s.list, request{Method: m[1], URL: m[2], Status: status})
	if l.n++; l.n > maxCaptures && l.err == nil {
		l.err = &limits.Error{What: "proxied requests listed in the step logs", Limit: "maxCaptures", Max: maxCaptures, Got: int64(l.n)}
	}
}

// requests are the requests of every step's final list.
func (l *proxyLog) requests() ([]request, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, fmt.Errorf("reading the proxy's request lists: %w", l.err)
	}
	var out []request
	for _, s := range l.steps {
		if s.open && !s.trailing {
			out = append(out, s.list...)
		}
	}
	return out, nil
}
