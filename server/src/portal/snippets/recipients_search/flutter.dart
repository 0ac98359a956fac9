// Search the directory by name or by (part of) a number.
// Flutter or Dart with package:http (flutter pub add http).
// Keep the API key on your server: a mobile app should call your backend, which calls Relay.
import 'dart:convert';

import 'package:http/http.dart' as http;

const relayApiKey = String.fromEnvironment('RELAY_API_KEY');

Future<void> main() async {
  final response = await http.get(
    Uri.parse('{{BASE_URL}}/v1/recipients?q=Ali'),
    headers: {'Authorization': 'Bearer $relayApiKey'},
  );
  // Errors are JSON too: {'ok': false, 'error': {'code': …, 'message': …}}
  print(response.body);
}
