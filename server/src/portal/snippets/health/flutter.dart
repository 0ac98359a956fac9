// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// Flutter or Dart with package:http (flutter pub add http).
// Keep the API key on your server: a mobile app should call your backend, which calls Relay.
import 'dart:convert';

import 'package:http/http.dart' as http;

const relayApiKey = String.fromEnvironment('RELAY_API_KEY');

Future<void> main() async {
  final response1 = await http.get(
    Uri.parse('{{BASE_URL}}/v1/health'),
  );
  // Errors are JSON too: {'ok': false, 'error': {'code': …, 'message': …}}
  print(response1.body);
  final response2 = await http.get(
    Uri.parse('{{BASE_URL}}/v1/readiness'),
    headers: {'Authorization': 'Bearer $relayApiKey'},
  );
  // Errors are JSON too: {'ok': false, 'error': {'code': …, 'message': …}}
  print(response2.body);
}
