package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
)

// maxResponse caps how much of a reply the client reads.
const maxResponse = 16 << 20

// Client talks to one migrated over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket
// (DefaultSocket when empty).
func NewClient(socket string) *Client {
	if socket == "" {
		socket = DefaultSocket
	}
	d := net.Dialer{}
	return &Client{
		socket: socket,
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", socket)
			},
		}},
	}
}

// Version asks the daemon who it is.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	return v, c.get(ctx, "/v1/version", &v)
}

// Nodes lists the cluster members the daemon knows.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var ns []Node
	return ns, c.get(ctx, "/v1/nodes", &ns)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://migrated"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.dialError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read reply from migrated: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("migrated: %s", resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode reply from migrated: %w", err)
	}
	return nil
}

func (c *Client) dialError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		hint := ""
		if errno == syscall.ENOENT || errno == syscall.ECONNREFUSED {
			hint = " (is the daemon running?)"
		}
		return fmt.Errorf("cannot reach migrated at %s: %v%s", c.socket, errno, hint)
	}
	return fmt.Errorf("cannot reach migrated at %s: %w", c.socket, err)
}

// Migrate asks the daemon to move a process; onEvent sees every progress
// event. It returns the final report or the migration's error.
func (c *Client) Migrate(ctx context.Context, req MigrateRequest, onEvent func(MigrateEvent)) (MigrateReport, error) {
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://migrated/v1/migrate", bytes.NewReader(body))
	if err != nil {
		return MigrateReport{}, err
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return MigrateReport{}, c.dialError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return MigrateReport{}, errors.New(e.Error)
		}
		return MigrateReport{}, fmt.Errorf("migrated: %s", resp.Status)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxResponse))
	for {
		var ev MigrateEvent
		if err := dec.Decode(&ev); err != nil {
			return MigrateReport{}, fmt.Errorf("migrated ended the answer early: %w", err)
		}
		if onEvent != nil {
			onEvent(ev)
		}
		switch {
		case ev.Error != "":
			return MigrateReport{}, errors.New(ev.Error)
		case ev.Report != nil:
			return *ev.Report, nil
		}
	}
}
