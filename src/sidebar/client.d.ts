// client.js is embedded as text (`with { type: "text" }`): its default export is the script's source.
declare const text: string;
export default text;
