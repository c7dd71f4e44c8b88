package restorer_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/migrate-dev/migrate/internal/self"
)

func TestMain(m *testing.M) {
	if err := self.CloexecInherited(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
