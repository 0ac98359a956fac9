<?php

// Check the code the person typed: status is "success", "failed" or "expired".
// In a Laravel app (config/services.php: 'relay' => ['key' => env('RELAY_API_KEY')]).
use Illuminate\Support\Facades\Http;

$relay = Http::baseUrl('{{BASE_URL}}/v1')->withToken(config('services.relay.key'))->acceptJson();

$response = $relay->post('/otp/verify', ['otp_id' => session('otp_id'), 'code' => $request->input('code')]);
echo $response->body(), PHP_EOL; // $response->json('ok'); $response->failed() on a 4xx or 5xx
