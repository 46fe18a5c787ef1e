package collector

// The quantities only a controller's Modbus TCP server carries. The 16-bit
// ones that cannot reach 0xFFFF (currents, a percentage, a count) take it
// as "no value" (Saturated16), like the 16-bit keys of full_state. They are rows
// of Keys like every full_state key, so that WriteText and the Collector stay
// the one exposition path, but Parse never takes them from a full_state
// document (ModbusOnly). Their Key names the register(s), for messages.
var modbusKeys = []KeySpec{
	{Key: "modbus_ev_soc", ModbusOnly: true, Sentinel: Saturated16, Kind: Number, Metric: "ev_state_of_charge_ratio",
		Help: "State of charge of the vehicle's battery, 0-1, as an ISO 15118 vehicle reports it (Modbus register 730, only while register 740 says an ISO 15118 vehicle is connected)."},
	{Key: "modbus_iso15118", ModbusOnly: true, Kind: Bool, Metric: "ev_iso15118", True: "1", False: "0",
		Help: "1 if the connected vehicle talks ISO 15118 (Modbus register 740)."},
	{Key: "modbus_hems_limit", ModbusOnly: true, Sentinel: Saturated16, Kind: Number, Metric: "hems_current_limit_amperes",
		Help: "Current limit an energy manager (HEMS) set over Modbus in amperes; 0 pauses charging (Modbus register 1000)."},
	{Key: "modbus_operator_limit", ModbusOnly: true, Sentinel: Saturated16, Kind: Number, Metric: "operator_current_limit_amperes",
		Help: "Current limit the operator configured in amperes (Modbus register 134, firmware 5.22 and later)."},
	{Key: "modbus_safe_current", ModbusOnly: true, Sentinel: Saturated16, Kind: Number, Metric: "modbus_safe_current_amperes",
		Help: "Current the controller falls back to when the Modbus master stops communicating, in amperes (Modbus register 131)."},
	{Key: "modbus_comm_timeout", ModbusOnly: true, Kind: Number, Metric: "modbus_communication_timeout_seconds",
		Help: "Time without the Modbus master after which the controller falls back to the safe current (Modbus register 132)."},
	{Key: "modbus_min_current", ModbusOnly: true, Sentinel: Saturated16, Kind: Number, Metric: "min_current_amperes",
		Help: "Lowest current the controller signals before it pauses charging, in amperes (Modbus register 712)."},
	{Key: "modbus_ev_max_current", ModbusOnly: true, Sentinel: Saturated16, Kind: Number, Metric: "ev_max_current_amperes",
		Help: "Most current the vehicle and cable can take in amperes, the lower of the cable's rating and what an ISO 15118 vehicle says (Modbus register 715, firmware 5.22 and later)."},
	{Key: "modbus_plug_lock", ModbusOnly: true, Kind: Bool, Metric: "plug_locked", True: "1", False: "0",
		Help: "1 if the plug is locked in the socket (Modbus register 152, firmware 5.22 and later)."},
	{Key: "modbus_relay", ModbusOnly: true, Kind: StateSet, Metric: "phase_relay_state",
		Help:   "State of the phase switching relay: off, three_phase or one_phase; another value is the register's number (Modbus register 140).",
		States: []string{"off", "three_phase", "one_phase"}},
	{Key: "modbus_cp_available", ModbusOnly: true, Kind: Bool, Metric: "chargepoint_available", True: "1", False: "0",
		Help: "1 if the charge point is set available, 0 if unavailable (Modbus register 124, whose meaning flips at firmware 5.22; the exporter reads it by the register set)."},
	{Key: "modbus_dlm_mode", ModbusOnly: true, Kind: StateSet, Metric: "dlm_mode_state",
		Help:   "Dynamic load management role of the controller (Modbus register 600).",
		States: []string{"disabled", "master_with_internal_slave", "master_standalone", "slave_auto_discovery", "slave_fixed_ip"}},
	{Key: "modbus_dlm_external_meter", ModbusOnly: true, Kind: Bool, Metric: "dlm_external_meter", True: "1", False: "0",
		Help: "1 if the DLM master considers a secondary (external) meter (Modbus register 620; DLM masters only)."},
	{Key: "modbus_dlm_slaves", ModbusOnly: true, Sentinel: Saturated16, Kind: Number, Metric: "dlm_slaves_connected",
		Help: "Slaves connected to this DLM master (Modbus register 621; DLM masters only)."},
	{Key: "modbus_dlm_sub_limit", ModbusOnly: true, Sentinel: Saturated16, Kind: List, Metric: "dlm_sub_distribution_limit_amperes",
		Help:      "Current per phase available for distribution to the vehicles of the DLM site, in amperes (Modbus registers 610-612; DLM masters only).",
		ListLabel: "phase", ListValues: phases},
	{Key: "modbus_dlm_operator_sub_limit", ModbusOnly: true, Sentinel: Saturated16, Kind: List, Metric: "dlm_operator_sub_distribution_limit_amperes",
		Help:      "Operator's limit per phase on the DLM site's distribution, at most the sub-distribution limit, in amperes (Modbus registers 613-615; DLM masters only).",
		ListLabel: "phase", ListValues: phases},
	{Key: "modbus_dlm_applied", ModbusOnly: true, Sentinel: Saturated16, Kind: List, Metric: "dlm_current_applied_amperes",
		Help:      "Current per phase the DLM master applies now, summed over its slaves, in amperes (Modbus registers 630-632; DLM masters only).",
		ListLabel: "phase", ListValues: phases},
	{Key: "modbus_dlm_available", ModbusOnly: true, Sentinel: Saturated16, Kind: List, Metric: "dlm_current_available_amperes",
		Help:      "Current per phase the DLM master has to distribute, in amperes (Modbus registers 633-635; DLM masters only).",
		ListLabel: "phase", ListValues: phases},
	{Key: "modbus_register_set", ModbusOnly: true, Kind: Info, Metric: modbusInfo, InfoLabel: "register_set"},
	{Key: "modbus_protocol_version", ModbusOnly: true, Kind: Info, Metric: modbusInfo, InfoLabel: "protocol_version"},

	// How the probe read the registers: what the exporter learned of the
	// controller's Modbus server (modbus.Memory).
	{Key: "modbus_requests", ModbusOnly: true, Kind: Number, Metric: "modbus_requests",
		Help: "Read requests (function code 03) this probe sent to the controller, the firmware version's and any fallback's included."},
	{Key: "modbus_pipelined", ModbusOnly: true, Kind: Bool, Metric: "modbus_pipelined", True: "1", False: "0",
		Help: "1 if the controller's Modbus server answers several requests sent at once (the probe sends its reads in one burst); 0 if it was found to drop requests that arrive while it answers one, so that it is read one request at a time (remembered per target for an hour, or until its firmware version changes)."},
	{Key: "modbus_split_reads", ModbusOnly: true, Kind: Number, Metric: "modbus_split_reads",
		Help: "Reads across gaps of the register map that the controller refused (an exception for an address it does not document), read by their parts instead (remembered per target for an hour, or until its firmware version changes)."},
}

// modbusInfo is bender_cc_modbus_info.
const modbusInfo = "modbus_info"
