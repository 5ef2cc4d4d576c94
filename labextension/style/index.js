import './base.css';
import './chat.css';
import './timetravel.css';
import './notebook.css';
import './agents.css';
import './subagents.css';
