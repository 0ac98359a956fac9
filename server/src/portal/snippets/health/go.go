// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// Standard library only: RELAY_API_KEY=… go run example.go
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

// relay calls the API and returns the raw JSON answer (errors are JSON too).
func relay(method, url string, auth bool) ([]byte, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth {
		req.Header.Set("Authorization", "Bearer "+os.Getenv("RELAY_API_KEY"))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}

func main() {
	answer, err := relay("GET", "{{BASE_URL}}/v1/health", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(answer))
	answer, err = relay("GET", "{{BASE_URL}}/v1/readiness", true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(answer))
}
