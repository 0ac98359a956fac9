<?php

// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// In a Laravel app (config/services.php: 'relay' => ['key' => env('RELAY_API_KEY')]).
use Illuminate\Support\Facades\Http;

$relay = Http::baseUrl('{{BASE_URL}}/v1')->withToken(config('services.relay.key'))->acceptJson();

$response1 = Http::baseUrl('{{BASE_URL}}/v1')->get('/health');
echo $response1->body(), PHP_EOL; // $response1->json('ok'); $response1->failed() on a 4xx or 5xx
$response2 = $relay->get('/readiness');
echo $response2->body(), PHP_EOL; // $response2->json('ok'); $response2->failed() on a 4xx or 5xx
