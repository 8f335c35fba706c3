package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The command line as a person meets it: the test binary re-runs itself
// as the real main (the environment variable below selects it), so that
// exit statuses and what is printed are the program's own.

const runMainEnv = "OMM_TEST_RUN_MAIN"

func init() {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"ommserver"}, strings.Fields(os.Getenv(runMainEnv+"_ARGS"))...)
		main()
		os.Exit(0) // main exits on its own; this is never reached
	}
}

// runMain runs main with args and returns its exit status and output.
func runMain(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), runMainEnv+"=1", runMainEnv+"_ARGS="+strings.Join(args, " "))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestCommandLineHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"enroll-profile", "-h"}} {
		status, out := runMain(t, args...)
		if status != 0 || !strings.Contains(out, "-data") && !strings.Contains(out, "usage: ommserver enroll-profile") {
			t.Errorf("ommserver %s: exit %d:\n%s", strings.Join(args, " "), status, out)
		}
		if strings.Contains(out, "help requested") {
			t.Errorf("ommserver %s reports the help it was asked for as an error:\n%s", strings.Join(args, " "), out)
		}
	}
	status, out := runMain(t, "-no-such-flag")
	if status == 0 || !strings.Contains(out, "not defined") {
		t.Errorf("an unknown flag: exit %d:\n%s", status, out)
	}
}
