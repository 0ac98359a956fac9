DROP INDEX devices_connected_instance;
DROP TABLE server_instances;
