package builder

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
)

// TestShown: what BuildKit's display is given of a status has no control
// characters but newlines and tabs in logs, whatever the display mode
// (the tty display too); the status the logs are read from is unchanged.
func TestShown(t *testing.T) {
	const evil = "\x1b]0;PWNED\x07\x1b[2J"
	st := &client.SolveStatus{
		Vertexes: []*client.Vertex{{Name: "[2/3] RUN printf '" + evil + "'", Error: evil}},
		Statuses: []*client.VertexStatus{{ID: evil, Name: evil}},
		Logs:     []*client.VertexLog{{Data: []byte("a\t" + evil + "\nb\n")}},
		Warnings: []*client.VertexWarning{{Short: []byte(evil), Detail: [][]byte{[]byte(evil)}}},
	}
	out := shown(st)
	all := out.Vertexes[0].Name + out.Vertexes[0].Error + out.Statuses[0].ID + out.Statuses[0].Name +
		string(out.Logs[0].Data) + string(out.Warnings[0].Short) + string(out.Warnings[0].Detail[0])
	if strings.ContainsAny(strings.NewReplacer("\n", "", "\t", "").Replace(all), "\x1b\x07") {
		t.Errorf("control characters reach the display: %q", all)
	}
	if string(out.Logs[0].Data) != "a\t\\x1b]0;PWNED\\x07\\x1b[2J\nb\n" {
		t.Errorf("log %q", out.Logs[0].Data)
	}
	if !strings.Contains(st.Vertexes[0].Name, evil) || !strings.Contains(string(st.Logs[0].Data), evil) {
		t.Error("the status BuildKit sent was changed")
	}
}
