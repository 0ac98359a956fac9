-- Server instances sharing this database. Each one writes `seen_at` every few seconds; a device
-- whose `connected_instance` has stopped doing so is held by a dead process, and any live
-- instance takes it offline and re-queues what it held unacknowledged.
CREATE TABLE server_instances (
    id TEXT PRIMARY KEY NOT NULL,
    started_at TIMESTAMP NOT NULL,
    seen_at TIMESTAMP NOT NULL
);
CREATE INDEX devices_connected_instance ON devices(connected_instance);
