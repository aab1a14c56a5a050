// Package machine reads what the computer has: its memory.
package machine

import (
	"os"
	"strconv"
	"strings"
)

// Memory is the machine's total memory in bytes (MemTotal of
// /proc/meminfo), or 0 where it cannot be read.
func Memory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Budget is the memory a run may plan for by default: 80 % of the
// machine's (0 where it is unknown: no bound).
func Budget() int64 { return Memory() * 8 / 10 }
