"""The bureau's social-work talent database (社工人才信息库): workers, certificates, stations, employment."""
