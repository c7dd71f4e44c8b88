package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/buildinfo"
	"github.com/migrate-dev/migrate/precopy"
)

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.Version{Version: buildinfo.String(), Node: d.cfg.Name})
	})
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Nodes())
	})
	mux.HandleFunc("POST /v1/migrate", d.handleMigrate)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, api.Error{Error: "no such API route: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// Nodes is the cluster as this daemon sees it.
func (d *Daemon) Nodes() []api.Node {
	ms := d.cluster.Members()
	out := make([]api.Node, 0, len(ms))
	for _, m := range ms {
		out = append(out, api.Node{
			Name:         m.Name,
			Address:      m.Address,
			State:        string(m.State),
			QUICAddr:     m.Meta.QUICAddr,
			Load1:        m.Meta.Load1,
			MemAvailable: m.Meta.MemAvailable,
			Procs:        m.Meta.Procs,
			Version:      m.Meta.Version,
			Self:         m.Name == d.cfg.Name,
			Since:        m.Since,
		})
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handleMigrate runs a migration and streams its progress as JSON lines.
func (d *Daemon) handleMigrate(w http.ResponseWriter, r *http.Request) {
	var req api.MigrateRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, api.Error{Error: "bad migrate request: " + err.Error()})
		return
	}
	if req.PID <= 0 || req.Host == "" {
		writeJSON(w, http.StatusBadRequest, api.Error{Error: "migrate needs a PID and a HOST"})
		return
	}
	if err := authorize(r.Context(), req.PID); err != nil {
		writeJSON(w, http.StatusForbidden, api.Error{Error: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	rep, err := d.MigrateOut(r.Context(), req, func(p precopy.Progress) {
		_ = enc.Encode(api.MigrateEvent{Progress: &api.MigrateProgress{
			Round: p.Round, Phase: p.Phase, PagesSent: p.PagesSent, DirtyPages: p.DirtyPages,
			DirtyRate: p.DirtyRate, LinkRate: p.LinkRate, RemainingMS: ms(p.Remaining),
			Throttle: p.Throttle,
		}})
		flush()
	})
	if err != nil {
		_ = enc.Encode(api.MigrateEvent{Error: err.Error()})
		return
	}
	_ = enc.Encode(api.MigrateEvent{Report: &api.MigrateReport{
		PID: req.PID, Host: req.Host, Rounds: rep.Rounds, PagesSent: rep.PagesSent, ZeroPages: rep.ZeroPages,
		WireBytes: rep.WireBytes, Tracker: rep.Tracker, TotalMS: ms(rep.Total), FrozenMS: ms(rep.Frozen), FrozenAtUnixNS: rep.FrozenAt.UnixNano(), StreamingMS: ms(rep.Streaming), RestoreMS: rep.RestoreMS,
		Freeze: apiSteps(rep.Freeze), RestoreSteps: apiSteps(rep.RestoreSteps), Resolved: rep.Resolved, Throttle: rep.Throttle,
	}})
}

func apiSteps(in []precopy.Step) []api.Step {
	out := make([]api.Step, len(in))
	for i, s := range in {
		out[i] = api.Step{What: s.What, MS: s.MS}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
