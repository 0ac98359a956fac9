<?php

// Search the directory by name or by (part of) a number.
// In a Laravel app (config/services.php: 'relay' => ['key' => env('RELAY_API_KEY')]).
use Illuminate\Support\Facades\Http;

$relay = Http::baseUrl('{{BASE_URL}}/v1')->withToken(config('services.relay.key'))->acceptJson();

$response = $relay->get('/recipients?q=Ali');
echo $response->body(), PHP_EOL; // $response->json('ok'); $response->failed() on a 4xx or 5xx
