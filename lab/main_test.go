package lab_test

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/testutil"
)

// TestMain doubles as a helper command inside lab hosts: with
// LABTEST_DIAL=host:port the test binary tries one TCP connection and
// exits 0 when it connects, 3 when it cannot, printing the error.
func TestMain(m *testing.M) {
	if addr := os.Getenv("LABTEST_DIAL"); addr != "" {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		c.Close()
		os.Exit(0)
	}
	if os.Geteuid() == 0 {
		if err := linux.BecomeSubreaper(); err != nil {
			fmt.Fprintln(os.Stderr, "subreaper:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}
