-- One database per service; they never read each other's tables.
CREATE DATABASE registry;
CREATE DATABASE subsidy;
CREATE DATABASE projects;
CREATE DATABASE gateway;
