// Queue one SMS: the answer carries its request_id and status "queued".
// Flutter or Dart with package:http (flutter pub add http).
// Keep the API key on your server: a mobile app should call your backend, which calls Relay.
import 'dart:convert';

import 'package:http/http.dart' as http;

const relayApiKey = String.fromEnvironment('RELAY_API_KEY');

Future<void> main() async {
  final response = await http.post(
    Uri.parse('{{BASE_URL}}/v1/messages'),
    headers: {'Authorization': 'Bearer $relayApiKey', 'Content-Type': 'application/json'},
    body: jsonEncode({'to': '+923001234567', 'message': 'Your order 1043 has shipped.'}),
  );
  // Errors are JSON too: {'ok': false, 'error': {'code': …, 'message': …}}
  print(response.body);
}
