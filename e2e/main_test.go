package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/self"
	"github.com/migrate-dev/migrate/internal/testutil"
)

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		if err := linux.BecomeSubreaper(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	self.CloexecInherited()
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}
