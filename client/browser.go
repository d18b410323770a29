package client

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// openSystemBrowser asks the desktop to open u: open on macOS, rundll32 on
// Windows, xdg-open elsewhere. u goes to the program as one argument, with
// no shell in between. It returns once the program has started, so a
// browser that fails later goes unnoticed: Login prints the URL anyway.
func openSystemBrowser(u string) error {
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return errors.New("not an http or https URL") // nor an option or a file name
	}
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no graphical display")
		}
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it
	return nil
}
