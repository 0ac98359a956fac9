<?php

// Send a one-time code: the answer carries the otp_id to verify against.
// In a Laravel app (config/services.php: 'relay' => ['key' => env('RELAY_API_KEY')]).
use Illuminate\Support\Facades\Http;

$relay = Http::baseUrl('{{BASE_URL}}/v1')->withToken(config('services.relay.key'))->acceptJson();

$response = $relay->post('/otp/send', ['to' => '+923001234567', 'purpose' => 'login', 'locale' => 'en']);
echo $response->body(), PHP_EOL; // $response->json('ok'); $response->failed() on a 4xx or 5xx
