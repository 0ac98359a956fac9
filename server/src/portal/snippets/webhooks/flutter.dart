// Subscribe an endpoint of yours to events: the answer shows its signing secret once.
// Flutter or Dart with package:http (flutter pub add http).
// Keep the API key on your server: a mobile app should call your backend, which calls Relay.
import 'dart:convert';

import 'package:http/http.dart' as http;

const relayApiKey = String.fromEnvironment('RELAY_API_KEY');

Future<void> main() async {
  final response = await http.post(
    Uri.parse('{{BASE_URL}}/v1/webhooks'),
    headers: {'Authorization': 'Bearer $relayApiKey', 'Content-Type': 'application/json'},
    body: jsonEncode({
      'url': const String.fromEnvironment('WEBHOOK_URL'),
      'events': ['message.delivered', 'message.failed'],
    }),
  );
  // Errors are JSON too: {'ok': false, 'error': {'code': …, 'message': …}}
  print(response.body);
}
